import fp from 'fastify-plugin'
import rateLimit, { type FastifyRateLimitStore, type RateLimitPluginOptions } from '@fastify/rate-limit'
// The library's own stores (not in its public entry point): the Redis one is an atomic Lua
// script, the local one a bounded LRU. We only choose between them.
import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import type { SharedRedis } from './redis.ts'

type Callback = Parameters<FastifyRateLimitStore['incr']>[1]

/**
 * Counters in Redis when it is configured and up (every instance counts against the same
 * budget), in this process otherwise, and for any call Redis fails: a Redis outage makes the
 * limit per-instance, never absent. Keys are `<ip><groupId>`: routes that share a `groupId`
 * share one counter (the library's own stores would keep one per route).
 */
export function storeFor (redis: SharedRedis | null) {
  return class RateLimitStore implements FastifyRateLimitStore {
    readonly local: FastifyRateLimitStore
    readonly remote: FastifyRateLimitStore | null

    constructor (options: RateLimitPluginOptions) {
      this.local = new LocalStore(options.continueExceeding, options.exponentialBackoff, options.cache)
      this.remote = redis === null ? null : new RedisStore(options.continueExceeding, options.exponentialBackoff, redis.client, `${redis.keyPrefix}rate-limit:`)
    }

    incr (key: string, callback: Callback, timeWindow: number, max: number): void {
      if (this.remote === null || !redis!.available) {
        this.local.incr(key, callback, timeWindow, max)
        return
      }
      this.remote.incr(key, (err, result) => {
        if (err === null) callback(null, result)
        else this.local.incr(key, callback, timeWindow, max)
      }, timeWindow, max)
    }

    child (): FastifyRateLimitStore {
      return this
    }
  }
}

/**
 * Throttling, enabled per route (`config.rateLimit`, see src/lib/rate-limits.ts) rather than
 * globally: sign-in and sign-up are limited, page views are not. The 429 is rendered by the
 * app's error handler.
 * @see https://github.com/fastify/fastify-rate-limit
 */
export default fp(async function rateLimits (fastify) {
  await fastify.register(rateLimit, {
    global: false,
    store: storeFor(fastify.redis),
    // Throw a plain 429 error: the root error handler renders it as a page or JSON.
    errorResponseBuilder: (_request: unknown, context: { ttl: number }) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000))
      const wait = seconds < 90 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`
      return Object.assign(
        new Error(`Too many attempts. Please try again in ${wait}.`),
        { statusCode: 429, expose: true, retryAfterSeconds: seconds }
      )
    }
  })
}, { name: 'rate-limit', dependencies: ['redis'] })
