import type { Config } from '../config.ts'

/**
 * The throttle for routes that check a password or create accounts (sign-in, sign-up, password
 * change): LOGIN_RATE_LIMIT attempts per client IP per LOGIN_RATE_WINDOW_SECONDS.
 */
export function credentialAttempts (config: Config) {
  // One counter per client for all of these routes, pages and API alike.
  return { max: config.loginRateLimit.max, timeWindow: config.loginRateLimit.windowSeconds * 1000, groupId: 'credentials' }
}
