import { join } from 'node:path'
import view, { type FastifyViewOptions } from '@fastify/view'
import { Eta } from 'eta'
import type { FastifyInstance } from 'fastify'
import { projectRoot } from '../../lib/paths.ts'

/**
 * Eta templates from `views/`. Eta escapes `& < > " '` in `<%= %>`; templates are compiled
 * once and cached outside development.
 * @see https://github.com/fastify/point-of-view
 */
export const autoConfig = (fastify: FastifyInstance): FastifyViewOptions => ({
  engine: { eta: new Eta({ autoEscape: true, autoTrim: [false, 'nl'] }) },
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
