import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { csrfUserInfo } from '../external/csrf-protection.ts'
import { CrossSiteRequestError } from '../../lib/errors.ts'

declare module 'fastify' {
  interface FastifyReply {
    /** A CSRF token for forms on this page, bound to the visitor's session. */
    csrfToken: () => string
  }
  interface FastifyContextConfig {
    /** false: this route does not use CSRF form tokens (the JSON API relies on its content type and Origin). */
    csrf?: boolean
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export function isSafeMethod (method: string): boolean {
  return SAFE_METHODS.has(method)
}

/**
 * The CSRF token of one page (`it.csrf.token()` in a template): made when a form first asks for
 * it, then the same for every form of the page, so a page without forms costs no HMAC and sets
 * no CSRF cookie. An object, not a closure made per request: a closure stored in the template
 * data left about 240 B per request in V8's old generation (garbage that only a full collection
 * frees, so the process grew by tens of MB under load); this object dies young.
 */
export class PageCsrfToken {
  readonly #reply: FastifyReply
  #token: string | undefined

  constructor (reply: FastifyReply) {
    this.#reply = reply
  }

  token (): string {
    return (this.#token ??= this.#reply.csrfToken())
  }
}

/**
 * Defence in depth against cross-site requests, in front of the per-form tokens: a state
 * change whose `Sec-Fetch-Site` or `Origin` says it came from another site is refused,
 * unless that origin is an allowed CORS front end.
 */
export default fp(async function csrf (fastify) {
  const { publicOrigin, corsOrigins } = fastify.config
  const allowed = new Set(corsOrigins)

  function isSameOrigin (request: FastifyRequest, origin: string): boolean {
    if (publicOrigin !== null) return origin === publicOrigin
    // Without a configured origin compare with the Host the browser used: a cross-site page
    // cannot choose the Host header of the victim's own request.
    try {
      const url = new URL(origin)
      return url.host === new URL(`${url.protocol}//${request.headers.host ?? ''}`).host
    } catch {
      return false
    }
  }

  function isCrossSite (request: FastifyRequest): boolean {
    if (isSafeMethod(request.method)) return false
    const origin = request.headers.origin
    if (origin !== undefined && origin !== 'null' && allowed.has(origin)) return false
    const site = request.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return true
    return origin !== undefined && !isSameOrigin(request, origin)
  }

  // A callback hook: nothing here waits, so no promise per request.
  fastify.addHook('onRequest', function rejectCrossSite (request, _reply, done) {
    done(isCrossSite(request) ? new CrossSiteRequestError() : undefined)
  })

  // A page with a form token is for this visitor only (the token is bound to their CSRF secret
  // and sign-in), even when it sets no cookie: no cache may keep it or give it to another.
  fastify.decorateReply('csrfToken', function csrfToken (this: FastifyReply) {
    this.header('cache-control', 'no-store')
    return this.generateCsrf({ userInfo: csrfUserInfo(this.request) })
  })
}, { name: 'csrf', dependencies: ['auth'] })
