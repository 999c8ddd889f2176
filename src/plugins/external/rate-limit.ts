import rateLimit, { type FastifyRateLimitOptions } from '@fastify/rate-limit'

/**
 * Throttling, enabled per route (`config.rateLimit`) rather than globally: sign-in and sign-up
 * are limited, page views are not. The 429 is rendered by the app's error handler.
 * @see https://github.com/fastify/fastify-rate-limit
 */
export const autoConfig: FastifyRateLimitOptions = {
  global: false,
  // Throw a plain 429 error: the root error handler renders it as a page or JSON.
  errorResponseBuilder: (_request: unknown, context: { ttl: number }) => {
    const seconds = Math.max(1, Math.ceil(context.ttl / 1000))
    const wait = seconds < 90 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`
    return Object.assign(
      new Error(`Too many attempts. Please try again in ${wait}.`),
      { statusCode: 429, expose: true, retryAfterSeconds: seconds }
    )
  }
}

export default rateLimit
