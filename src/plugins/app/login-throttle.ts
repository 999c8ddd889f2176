import fp from 'fastify-plugin'
import { normalizeUid } from './users-repository.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-account sign-in throttle: a growing wait after repeated failures for one user id. */
    loginThrottle: LoginThrottle
  }
}

/**
 * Where the throttle keeps its counters. Today a bounded in-process Map (`createMemoryStore`);
 * the scale-out issue moves it to Redis (`GET`, `SET key value PX ttl`, `DEL`), so that every
 * instance sees the same counters. Nothing else needs to change for that.
 */
export interface ThrottleStore<T> {
  get (key: string): Promise<T | undefined>
  /** Stores `value`, forgotten after `ttlMs` without a newer `set`. */
  set (key: string, value: T, ttlMs: number): Promise<void>
  delete (key: string): Promise<void>
}

/** One user id's run of failed sign-ins. */
export interface AccountState {
  /** Attempts since the last success (each counted when it starts; see `attempt`). */
  failures: number
  /** When the last counted attempt started (ms, from the throttle's clock). */
  lastAttemptAt: number
}

export type ThrottleVerdict = { allowed: true } | { allowed: false, retryAfterSeconds: number }

export interface LoginThrottle {
  /** The clock (ms). Tests replace it (`t.mock.method(app.loginThrottle, 'now', …)`) instead of sleeping. */
  now: () => number
  /**
   * Asks to check a password for `uid`. During the wait it answers `allowed: false` (check no
   * password then, not even the right one), and the refused attempt does not lengthen the wait.
   * Otherwise the attempt is counted as a failure right away, before the password is hashed, so
   * parallel guesses cannot all slip through during the tens of milliseconds a hash takes;
   * `succeeded` clears the count when the password turns out to be right.
   */
  attempt (uid: string): Promise<ThrottleVerdict>
  /** A successful sign-in: the user id starts afresh. */
  succeeded (uid: string): Promise<void>
  /** The wait (ms) imposed after `failures` consecutive failures: 0 while they are free. */
  delayMs (failures: number): number
  readonly store: ThrottleStore<AccountState>
}

export interface LoginThrottleOptions {
  /** Failures allowed before any wait (LOGIN_ACCOUNT_FREE_ATTEMPTS). */
  freeAttempts: number
  /** The longest wait, in seconds (LOGIN_ACCOUNT_MAX_DELAY_SECONDS). */
  maxDelaySeconds: number
  now?: () => number
  store?: ThrottleStore<AccountState>
  /** Size bound of the default in-memory store. */
  maxEntries?: number
}

/** Room for every real account plus a lot of noise: about 200 bytes each (measured: 20 MB in all). */
export const DEFAULT_MAX_ENTRIES = 100_000

/**
 * The in-process store: a Map kept in write order, so its first entries are the oldest. Each
 * write first sweeps expired entries from the front, then evicts the oldest ones beyond
 * `maxEntries`: someone spraying random user ids can fill it, but never grow it. (Evicting an
 * account under attack resets its counter early; the per-IP limit makes that slow, and the
 * shared Redis store of the scale-out issue will not need the bound.)
 */
export function createMemoryStore<T> (options: { maxEntries: number, now: () => number }): ThrottleStore<T> & { readonly size: number } {
  const entries = new Map<string, { value: T, expiresAt: number }>()

  function sweep (now: number): void {
    // With one TTL for every key (as the throttle uses) write order is expiry order, so the
    // sweep stops at the first live entry. Other TTLs are still expired lazily by `get`.
    for (const [key, entry] of entries) {
      if (entry.expiresAt > now) break
      entries.delete(key)
    }
  }

  return {
    get size () {
      return entries.size
    },
    async get (key) {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      if (entry.expiresAt <= options.now()) {
        entries.delete(key)
        return undefined
      }
      return entry.value
    },
    async set (key, value, ttlMs) {
      const now = options.now()
      sweep(now)
      // Re-inserting moves the key to the end: the Map stays in write order.
      entries.delete(key)
      for (const oldest of entries.keys()) {
        if (entries.size < options.maxEntries) break
        entries.delete(oldest)
      }
      entries.set(key, { value, expiresAt: now + ttlMs })
    },
    async delete (key) {
      entries.delete(key)
    }
  }
}

/** "1 second", "40 seconds", "15 minutes": how long to wait, for people. */
export function describeWait (seconds: number): string {
  if (seconds === 1) return '1 second'
  if (seconds < 90) return `${seconds} seconds`
  return `${Math.ceil(seconds / 60)} minutes`
}

/** What a refused attempt is told (pages and API alike); the same for unknown user ids. */
export function throttledMessage (retryAfterSeconds: number): string {
  return `Too many failed sign-ins for this user id. Please wait ${describeWait(retryAfterSeconds)} before trying again.`
}

/**
 * An attempt refused by the per-account throttle. The error handler renders it as a 429 with
 * `Retry-After` (the message is shown as is).
 */
export class SignInThrottledError extends Error {
  readonly statusCode = 429
  readonly code = 'APP_SIGN_IN_THROTTLED'
  readonly expose = true
  constructor (readonly retryAfterSeconds: number) {
    super(throttledMessage(retryAfterSeconds))
    this.name = 'SignInThrottledError'
  }
}

/**
 * Per-account throttling of sign-ins, keyed by the normalised user id whether or not such a
 * user exists (so the answers do not reveal which ids are real). After `freeAttempts`
 * consecutive failures each attempt waits 1 s, 2 s, 4 s … (doubling, capped at
 * `maxDelaySeconds`) after the previous one. There is no lockout: once the wait is over the
 * owner can always try again, and a quiet period of twice the longest wait forgets the count.
 * The per-IP limit (@fastify/rate-limit) still applies in front of this.
 */
export function createLoginThrottle (options: LoginThrottleOptions): LoginThrottle {
  const { freeAttempts, maxDelaySeconds } = options
  const maxDelayMs = maxDelaySeconds * 1000
  const quietPeriodMs = 2 * maxDelayMs
  // Read-modify-write of one key runs one at a time, so concurrent attempts are all counted.
  // (With Redis this becomes one atomic script.) Only keys with attempts in flight are held.
  const queues = new Map<string, Promise<unknown>>()

  async function exclusive<T> (key: string, task: () => Promise<T>): Promise<T> {
    const run = (queues.get(key) ?? Promise.resolve()).then(task, task)
    const tail = run.then(() => undefined, () => undefined)
    queues.set(key, tail)
    try {
      return await run
    } finally {
      if (queues.get(key) === tail) queues.delete(key)
    }
  }

  const throttle: LoginThrottle = {
    now: options.now ?? Date.now,
    store: options.store ?? createMemoryStore<AccountState>({
      maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
      now: () => throttle.now()
    }),

    delayMs (failures) {
      if (failures < freeAttempts) return 0
      // 2^30 s is far past any cap: bounding the exponent keeps the number finite.
      return Math.min(1000 * 2 ** Math.min(failures - freeAttempts, 30), maxDelayMs)
    },

    attempt (uid) {
      const key = normalizeUid(uid)
      return exclusive<ThrottleVerdict>(key, async () => {
        const now = throttle.now()
        const state = await throttle.store.get(key)
        if (state !== undefined) {
          const waitUntil = state.lastAttemptAt + throttle.delayMs(state.failures)
          if (now < waitUntil) {
            return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((waitUntil - now) / 1000)) }
          }
        }
        await throttle.store.set(key, { failures: (state?.failures ?? 0) + 1, lastAttemptAt: now }, quietPeriodMs)
        return { allowed: true }
      })
    },

    succeeded (uid) {
      const key = normalizeUid(uid)
      return exclusive(key, () => throttle.store.delete(key))
    }
  }
  return throttle
}

export default fp(async function loginThrottle (fastify) {
  fastify.decorate('loginThrottle', createLoginThrottle(fastify.config.accountThrottle))
}, { name: 'login-throttle' })
