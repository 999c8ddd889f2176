import cookie, { type FastifyCookieOptions } from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import { deriveKey } from '../../lib/keys.ts'

/**
 * Cookie parsing and signing. The signing key (flash and CSRF-secret cookies) is derived
 * from JWT_SECRET with HKDF, so each purpose has its own key.
 * @see https://github.com/fastify/fastify-cookie
 */
export const autoConfig = (fastify: FastifyInstance): FastifyCookieOptions => ({
  secret: deriveKey(fastify.config.jwt.secret, 'cookie-signing'),
  parseOptions: {}
})

export default cookie
