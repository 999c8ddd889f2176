import { join } from 'node:path'
import view, { type FastifyViewOptions } from '@fastify/view'
import { Eta } from 'eta'
import type { FastifyInstance } from 'fastify'
import { projectRoot } from '../../lib/paths.ts'

// What Eta generates for include(): a new object with every field of the caller's data, then
// the partial's own (`{...it, ...data}`), for every include.
const MERGING_INCLUDE = 'this.render(__eta_t, {...it, ...(__eta_d ?? {})}, options)'

/**
 * Partials get exactly the data they are passed: `include('/partials/field', { field })` gives
 * the partial `{ field }`, and `include(path)` with no data gives it the caller's own `it`
 * (not a copy). Eta's default copies the caller's whole data into a new object for every
 * include; no partial here reads it, and on the profile page (four form fields) the copies cost
 * about 13 % of the page's throughput (docs/decisions/0021-hot-path-second-pass.md). Layouts are
 * unchanged: Eta builds their data itself (the page's data, `body`, the layout's arguments).
 * Done with Eta's plugin hook on the generated code; if a new Eta generates something else, every
 * template fails to compile (loudly, in the tests) rather than silently keeping the old cost.
 */
export const partialsGetTheirOwnData = {
  processFnString (fn: string): string {
    if (!fn.includes(MERGING_INCLUDE)) throw new Error('Eta no longer generates the include() this plugin replaces (src/plugins/external/view.ts)')
    return fn.replace(MERGING_INCLUDE, 'this.render(__eta_t, __eta_d ?? it, options)')
  }
}

// What Eta generates to render a page into its layout: the page's data, the page as `body`, the
// layout's arguments and the page's blocks, in one object literal with spreads.
const SPREAD_LAYOUT_DATA = '__eta.res = include (__eta.layout, {...it, body: __eta.res, ...__eta.layoutData, __blocks: __eta.blocks});'

/**
 * The layout's data built with Object.assign, same fields in the same order (so the same
 * precedence: the layout's arguments over `body` over the page's data), instead of Eta's
 * `{...it, body, ...layoutData, __blocks}`. On this Node (V8 11), an object literal that adds a
 * property after a spread gets a new hidden class every time it is evaluated: for every page
 * rendered, V8 built new maps, allocated straight in the old generation (about 870 B of garbage
 * per render that only a full collection frees, and the render about a third slower in a
 * loop; decision 0022). Object.assign onto `{}` reuses one. If a new Eta generates something
 * else, templates fail to compile, as with the plugin above.
 */
export const layoutDataWithoutSpread = {
  processFnString (fn: string): string {
    if (!fn.includes(SPREAD_LAYOUT_DATA)) throw new Error('Eta no longer generates the layout call this plugin replaces (src/plugins/external/view.ts)')
    return fn.replace(SPREAD_LAYOUT_DATA, '__eta.res = include (__eta.layout, Object.assign({}, it, { body: __eta.res }, __eta.layoutData, { __blocks: __eta.blocks }));')
  }
}

/**
 * Eta, with each template path resolved once per (path, including file). Resolving is a pure
 * function of those and the views folder (it also refuses paths outside that folder: those
 * throw and are never remembered); Eta redoes it, with a JSON.stringify, for every render and
 * every include, about 2 % of a page's CPU.
 */
function createEta (): Eta {
  const eta = new Eta({ autoEscape: true, autoTrim: [false, 'nl'], plugins: [partialsGetTheirOwnData, layoutDataWithoutSpread] })
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
