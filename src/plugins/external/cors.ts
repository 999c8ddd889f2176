import cors, { type FastifyCorsOptions } from '@fastify/cors'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'

/** Under /api (the JSON API), never a page: pages are for this site only. */
const API_PATH = /^\/api(?:[/?]|$)/

/** What an allowed front end may do: the API's methods and a JSON body, with the session cookie. */
const GRANT: FastifyCorsOptions = {
  credentials: true,
  methods: ['GET', 'POST', 'PUT', 'DELETE'],
  allowedHeaders: ['content-type'],
  // Browsers cap this (Chromium at 2 hours); 10 minutes keeps a changed allow-list from lingering.
  maxAge: 600
}

/**
 * Cross-origin access to the JSON API for the front ends listed in CORS_ORIGINS, and nothing
 * else. Each request is decided on its own: an exact match of `Origin` against the list, on a
 * path under /api, gets that origin back with credentials; anything else (other origins,
 * `Origin: null`, pages) gets no CORS header at all, so there is never a reflected origin,
 * never `*`, and no `Access-Control-Allow-Credentials` without an allowed origin. The same list
 * lets these origins past the cross-site check in plugins/app/csrf.ts. See docs/decisions/0012.
 * @see https://github.com/fastify/fastify-cors
 */
export function corsOptions (origins: readonly string[]): FastifyCorsOptions {
  const allowed = new Set(origins)
  return {
    hook: 'onRequest',
    // A delegator rather than a static list: the static form still sends
    // Access-Control-Allow-Credentials and grants the preflight to origins it does not allow.
    delegator: async (request: FastifyRequest) => {
      const origin = request.headers.origin
      if (origin === undefined || !allowed.has(origin) || !API_PATH.test(request.url)) return { origin: false }
      return { ...GRANT, origin }
    }
  }
}

/**
 * Off (the default, CORS_ORIGINS empty): @fastify/cors is not registered at all, so no
 * response carries an Access-Control-* header and a preflight finds no route (404). Registered
 * with `origin: false` it would answer the same but still run its hook on every request.
 */
export default fp(async function corsPlugin (fastify: FastifyInstance) {
  const origins = fastify.config.corsOrigins
  if (origins.length > 0) await fastify.register(cors, corsOptions(origins))
}, { name: 'cors' })
