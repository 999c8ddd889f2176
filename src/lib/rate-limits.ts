import type { FastifyRequest } from 'fastify'
import type { Config } from '../config.ts'

/**
 * The throttle for routes that check a password or create accounts (sign-in, sign-up, password
 * change): LOGIN_RATE_LIMIT attempts per client IP per LOGIN_RATE_WINDOW_SECONDS.
 */
export function credentialAttempts (config: Config) {
  // One counter per client for all of these routes, pages and API alike.
  return { max: config.loginRateLimit.max, timeWindow: config.loginRateLimit.windowSeconds * 1000, groupId: 'credentials' }
}

/**
 * The same counter for a route where only some requests check a password: an API update counts
 * when its body carries `password` (a password change, which checks `currentPassword` on your
 * own account), not when it changes a name. Counted once the body is parsed and valid.
 */
export function passwordChangeAttempts (config: Config) {
  return {
    ...credentialAttempts(config),
    hook: 'preHandler' as const,
    allowList: (request: FastifyRequest): boolean => !hasPassword(request.body)
  }
}

function hasPassword (body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'password' in body
}
