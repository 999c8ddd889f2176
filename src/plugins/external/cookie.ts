import cookie, { Signer, type FastifyCookieOptions, type UnsignResult } from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import { deriveKey } from '../../lib/keys.ts'
import { setBounded } from '../../lib/memo.ts'

const MAX_REMEMBERED = 10_000

/**
 * @fastify/cookie's own signer, remembering the signed values it has found valid. The CSRF
 * secret cookie comes back with every page a signed-in browser loads, and checking it is an
 * HMAC each time; the answer for a given string never changes (one key), so a valid one is
 * looked up instead of recomputed. Only valid values are kept (a client sending junk cannot
 * fill the map), at most MAX_REMEMBERED, the oldest dropped first.
 */
export function rememberingSigner (key: string): Pick<Signer, 'sign' | 'unsign'> {
  const signer = new Signer(key)
  const valid = new Map<string, UnsignResult>()
  return {
    sign: (value: string) => signer.sign(value),
    unsign (input: string): UnsignResult {
      const known = valid.get(input)
      if (known !== undefined) return known
      const result = signer.unsign(input)
      if (result.valid) setBounded(valid, input, Object.freeze(result), MAX_REMEMBERED)
      return result
    }
  }
}

/**
 * Cookie parsing and signing. The signing key (flash and CSRF-secret cookies) is derived
 * from JWT_SECRET with HKDF, so each purpose has its own key.
 * @see https://github.com/fastify/fastify-cookie
 */
export const autoConfig = (fastify: FastifyInstance): FastifyCookieOptions => ({
  secret: rememberingSigner(deriveKey(fastify.config.jwt.secret, 'cookie-signing')),
  parseOptions: {}
})

export default cookie
