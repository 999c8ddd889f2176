import csrf, { type FastifyCsrfProtectionOptions } from '@fastify/csrf-protection'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { deriveKey } from '../../lib/keys.ts'

/**
 * CSRF tokens for every HTML form (sign-in and sign-out included). The secret sits in a signed,
 * HttpOnly cookie; each token is bound to the sign-in it was issued for (`getUserInfo`), so a
 * token from before sign-in (or from another sign-in) is useless; token renewals keep it.
 * @see https://github.com/fastify/csrf-protection
 */
export const csrfUserInfo = (request: FastifyRequest): string => request.user?.signInId ?? 'anonymous'

export const autoConfig = (fastify: FastifyInstance): FastifyCsrfProtectionOptions => ({
  sessionPlugin: '@fastify/cookie',
  cookieKey: fastify.config.cookie.secure ? '__Host-csrf' : 'csrf',
  cookieOpts: {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: fastify.config.cookie.secure,
    signed: true
  },
  getUserInfo: csrfUserInfo,
  csrfOpts: { hmacKey: deriveKey(fastify.config.jwt.secret, 'csrf-hmac') }
})

export default csrf
