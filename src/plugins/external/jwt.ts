import jwt, { type FastifyJWTOptions } from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'
import { deriveKey } from '../../lib/keys.ts'

/**
 * Token signing and verification: HS256 pinned on both sides, issuer and audience checked,
 * `sub`, `iat`, `exp`, `jti`, `iss` and `aud` required (fast-jwt skips allowedIss/allowedAud
 * when the claim is absent). Tokens are read from the cookie only (see the auth plugin).
 * This signs with the newest key of JWT_SECRET and names it in the `kid` header (a server-chosen
 * label; verification never looks it up); the auth plugin also verifies with older keys.
 *
 * Verified tokens are remembered (fast-jwt's LRU cache, TOKEN_CACHE_SIZE entries): a signed-in
 * browser sends the same token with every request, and its signature and claims are checked
 * once, not on every page. An entry never outlives the token's `exp` or maxAge (fast-jwt bounds
 * it by both); failures are not kept. The key is fast-jwt's own (a SHA-256 of the whole token;
 * SECURITY.md S37 rules out a custom key builder). Revocation is unaffected: the session
 * row decides it on every request, after verification.
 * @see https://github.com/fastify/fastify-jwt
 * @see https://github.com/nearform/fast-jwt#createverifier
 */
const TOKEN_CACHE_SIZE = 1000

export const autoConfig = (fastify: FastifyInstance): FastifyJWTOptions => {
  const { secret, ttlSeconds, issuer, audience } = fastify.config.jwt
  return {
    secret,
    sign: { algorithm: 'HS256', iss: issuer, aud: audience, expiresIn: `${ttlSeconds}s`, kid: deriveKey(secret, 'key-id').slice(0, 8) },
    verify: {
      algorithms: ['HS256'],
      allowedIss: issuer,
      allowedAud: audience,
      requiredClaims: ['sub', 'iat', 'exp', 'jti', 'iss', 'aud'],
      maxAge: `${ttlSeconds}s`,
      cache: TOKEN_CACHE_SIZE
    }
  }
}

export default jwt
