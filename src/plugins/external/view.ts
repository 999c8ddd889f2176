import { join } from 'node:path'
import view, { type FastifyViewOptions } from '@fastify/view'
import { Eta } from 'eta'
import type { FastifyInstance } from 'fastify'
import { projectRoot } from '../../lib/paths.ts'

/**
 * Eta, with each template path resolved once per (path, including file). Resolving is a pure
 * function of those and the views folder (it also refuses paths outside that folder: those
 * throw and are never remembered); Eta redoes it, with a JSON.stringify, for every render and
 * every include, about 2 % of a page's CPU.
 */
function createEta (): Eta {
  const eta = new Eta({ autoEscape: true, autoTrim: [false, 'nl'] })
  const resolve = eta.resolvePath
  // Including file → template path as written → resolved path (two lookups of strings that
  // already exist, rather than a key string built for every include).
  const resolved = new Map<string, Map<string, string>>()
  eta.resolvePath = function resolvePathOnce (template, options) {
    const from = options?.filepath ?? ''
    let paths = resolved.get(from)
    if (paths === undefined) resolved.set(from, paths = new Map())
    let path = paths.get(template)
    if (path === undefined) {
      path = resolve.call(this, template, options)
      paths.set(template, path)
    }
    return path
  }
  return eta
}

/**
 * Eta templates from `views/`. Eta escapes `& < > " '` in `<%= %>`; templates are compiled
 * once and cached outside development.
 * @see https://github.com/fastify/point-of-view
 */
export const autoConfig = (fastify: FastifyInstance): FastifyViewOptions => ({
  engine: { eta: createEta() },
  root: join(projectRoot, 'views'),
  viewExt: 'eta',
  // Available to every template (the navbar shows "Sign up" only when it is on).
  defaultContext: { signupEnabled: fastify.config.signupEnabled, currentUser: null, flash: null, currentPath: '' },
  production: fastify.config.env !== 'development'
})

export default view

declare module 'fastify' {
  interface FastifyReply {
    /** Data merged into every template this reply renders (@fastify/view reads it; its types omit it). */
    locals: Record<string, unknown>
  }
}
