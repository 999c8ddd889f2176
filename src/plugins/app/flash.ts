import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'

export type FlashKind = 'success' | 'error' | 'info'
export interface Flash {
  kind: FlashKind
  message: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Reads and clears the pending flash; page scopes call it before rendering. */
    takeFlash: (request: FastifyRequest, reply: FastifyReply) => Flash | null
  }
  interface FastifyReply {
    /** A one-time message for the next page (after a redirect). */
    flash: (kind: FlashKind, message: string) => FastifyReply
  }
}

/**
 * Flash messages in a short-lived signed cookie: set before a redirect, shown (and cleared)
 * by the next page. Only server-written text goes in; templates escape it like any other.
 * Over HTTPS the cookie is `__Host-flash`, like the session's `__Host-token`: the browser then
 * takes it only from this host, Secure, for the whole site, so a sibling subdomain cannot plant one.
 */
export default fp(async function flash (fastify) {
  const secure = fastify.config.cookie.secure
  const cookieName = secure ? '__Host-flash' : 'flash'
  const options = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure, signed: true }

  fastify.decorateReply('flash', function (this: FastifyReply, kind: FlashKind, message: string) {
    return this.setCookie(cookieName, JSON.stringify({ kind, message }), { ...options, maxAge: 60 })
  })

  fastify.decorate('takeFlash', function takeFlash (request: FastifyRequest, reply: FastifyReply): Flash | null {
    const raw = request.cookies[cookieName]
    if (raw === undefined) return null
    reply.clearCookie(cookieName, { path: '/', httpOnly: true, sameSite: 'lax', secure: options.secure })
    const { valid, value } = request.unsignCookie(raw)
    if (!valid || value === null) return null
    try {
      const parsed = JSON.parse(value) as Partial<Flash>
      if (typeof parsed.message !== 'string' || !['success', 'error', 'info'].includes(parsed.kind ?? '')) return null
      return { kind: parsed.kind as FlashKind, message: parsed.message }
    } catch {
      return null
    }
  })
}, { name: 'flash' })
