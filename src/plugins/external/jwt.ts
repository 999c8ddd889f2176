import jwt, { type FastifyJWTOptions } from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'

/**
 * Token signing and verification: HS256 pinned on both sides, issuer and audience checked,
 * `sub`, `iat`, `exp`, `jti`, `iss` and `aud` required (fast-jwt skips allowedIss/allowedAud
 * when the claim is absent). Tokens are read from the cookie only (see the auth plugin).
 * @see https://github.com/fastify/fastify-jwt
 */
export const autoConfig = (fastify: FastifyInstance): FastifyJWTOptions => {
  const { secret, ttlSeconds, issuer, audience } = fastify.config.jwt
  return {
    secret,
    sign: { algorithm: 'HS256', iss: issuer, aud: audience, expiresIn: `${ttlSeconds}s` },
    verify: {
      algorithms: ['HS256'],
      allowedIss: issuer,
      allowedAud: audience,
      requiredClaims: ['sub', 'iat', 'exp', 'jti', 'iss', 'aud'],
      maxAge: `${ttlSeconds}s`
    }
  }
}

export default jwt
