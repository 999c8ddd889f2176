import type { FastifyInstance, FastifyRequest } from 'fastify'
import { createErrorHandler } from '../../lib/error-handler.ts'
import { UnauthorizedError, UnsupportedMediaTypeError } from '../../lib/errors.ts'
import { isSafeMethod } from '../../plugins/app/csrf.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** true: reachable without signing in. API routes are closed unless they say so. */
    public?: boolean
  }
}

function hasBody (headers: Record<string, string | string[] | undefined>): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0')
}

/**
 * The /api scope: JSON errors, no caching, JSON-only bodies, and deny by default: a route is
 * public only when its config says `public: true`.
 */
export default async function apiHooks (fastify: FastifyInstance) {
  fastify.setErrorHandler(createErrorHandler({ json: 'always' }))

  // CSRF form tokens are for HTML forms. The API is protected by requiring application/json
  // (a cross-site form cannot send it without a CORS preflight) and by the Origin check.
  fastify.addHook('onRoute', (route) => {
    route.config = { ...route.config, csrf: false }
  })

  // A callback hook: nothing here waits, so no promise per request.
  fastify.addHook('onRequest', function apiGuard (request, reply, done) {
    reply.header('cache-control', 'no-store')
    done(refusal(request))
  })
}

/** Why the API refuses this request before routing it further, if it does. */
function refusal (request: FastifyRequest): Error | undefined {
  if (!isSafeMethod(request.method) && hasBody(request.headers)) {
    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
    if (type !== 'application/json') return new UnsupportedMediaTypeError()
  }
  // Unknown API paths answer 404 (see not-found.ts) whether or not the caller is signed in.
  if (request.is404) return undefined
  if (request.routeOptions.config.public !== true && request.user === null) return new UnauthorizedError()
  return undefined
}
