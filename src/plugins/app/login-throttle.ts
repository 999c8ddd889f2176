import fp from 'fastify-plugin'
import type { SharedRedis } from '../external/redis.ts'
import { normalizeUid } from './users-repository.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-account sign-in throttle: a growing wait after repeated failures for one user id. */
    loginThrottle: LoginThrottle
  }
}

/**
 * Where the throttle keeps its counters: a bounded in-process Map (`createMemoryStore`), or
 * Redis when configured (`createRedisStore`), so that every instance sees the same counters.
 */
export interface ThrottleStore<T> {
  get (key: string): Promise<T | undefined>
  /** Stores `value`, forgotten after `ttlMs` without a newer `set`. */
  set (key: string, value: T, ttlMs: number): Promise<void>
  /**
   * Stores `value` only if the key still holds `expected` (what `get` returned: undefined for
   * none), atomically. False when it changed meanwhile (another instance's attempt).
   */
  setIf (key: string, expected: T | undefined, value: T, ttlMs: number): Promise<boolean>
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

/** Rounds of `setIf` lost to other instances before an attempt is refused (see `decide`). */
const CONFLICT_RETRIES = 5

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

  function write (key: string, value: T, ttlMs: number): void {
    const now = options.now()
    sweep(now)
    // Re-inserting moves the key to the end: the Map stays in write order.
    entries.delete(key)
    for (const oldest of entries.keys()) {
      if (entries.size < options.maxEntries) break
      entries.delete(oldest)
    }
    entries.set(key, { value, expiresAt: now + ttlMs })
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
      write(key, value, ttlMs)
    },
    async setIf (key, expected, value, ttlMs) {
      if (await this.get(key) !== expected) return false
      write(key, value, ttlMs)
      return true
    },
    async delete (key) {
      entries.delete(key)
    }
  }
}

/** Sets KEYS[1] to ARGV[2] (PX ARGV[3]) only if it holds ARGV[1] (ARGV[4] = '1': only if it is absent). */
const SET_IF_LUA = `
local current = redis.call('GET', KEYS[1])
if (ARGV[4] == '1' and current == false) or (ARGV[4] == '0' and current == ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`

/**
 * The shared store: JSON values under `<prefix>login-throttle:<key>`, expiring in Redis itself.
 * Whenever Redis is down or a command fails, `fallback` (the in-process store) answers instead:
 * throttling becomes per-instance for the outage, never absent.
 */
export function createRedisStore<T extends object> (redis: SharedRedis, fallback: ThrottleStore<T>): ThrottleStore<T> {
  const prefix = `${redis.keyPrefix}login-throttle:`
  // The exact text each value was read as: `setIf` compares texts, as Redis stores them.
  const texts = new WeakMap<T, string>()
  const command = async <R>(remote: () => Promise<R>, local: () => Promise<R>): Promise<R> => {
    if (!redis.available) return local()
    try {
      return await remote()
    } catch {
      return local()
    }
  }
  return {
    get: (key) => command(async () => {
      const text = await redis.client.get(prefix + key)
      if (text === null) return undefined
      const value = JSON.parse(text) as T
      texts.set(value, text)
      return value
    }, () => fallback.get(key)),
    set: (key, value, ttlMs) => command(async () => {
      await redis.client.set(prefix + key, JSON.stringify(value), 'PX', ttlMs)
    }, () => fallback.set(key, value, ttlMs)),
    setIf: (key, expected, value, ttlMs) => command(async () => {
      const expectedText = expected === undefined ? '' : texts.get(expected)
      // A value this store did not read (it came from the fallback): not what Redis holds.
      if (expectedText === undefined) return false
      const done = await redis.client.eval(SET_IF_LUA, 1, prefix + key, expectedText, JSON.stringify(value), ttlMs, expected === undefined ? '1' : '0')
      return done === 1
    }, () => fallback.setIf(key, expected, value, ttlMs)),
    delete: (key) => command(async () => {
      await redis.client.del(prefix + key)
    }, () => fallback.delete(key))
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
  // Read-modify-write of one key runs one at a time in this process, so concurrent attempts are
  // all counted without conflicts; `setIf` covers other instances. Only keys in flight are held.
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

  /** One attempt for `key`, counted atomically against every instance's (see ThrottleStore.setIf). */
  async function decide (key: string, triesLeft = CONFLICT_RETRIES): Promise<ThrottleVerdict> {
    const now = throttle.now()
    const state = await throttle.store.get(key)
    if (state !== undefined) {
      const waitUntil = state.lastAttemptAt + throttle.delayMs(state.failures)
      if (now < waitUntil) {
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((waitUntil - now) / 1000)) }
      }
    }
    const next = { failures: (state?.failures ?? 0) + 1, lastAttemptAt: now }
    // Another instance counted an attempt since `get`: decide again on its state.
    if (await throttle.store.setIf(key, state, next, quietPeriodMs)) return { allowed: true }
    // Still losing after a few rounds: a burst of guesses at this account; this one waits.
    if (triesLeft === 0) return { allowed: false, retryAfterSeconds: 1 }
    return decide(key, triesLeft - 1)
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
      return exclusive(key, () => decide(key))
    },

    succeeded (uid) {
      const key = normalizeUid(uid)
      return exclusive(key, () => throttle.store.delete(key))
    }
  }
  return throttle
}

export default fp(async function loginThrottle (fastify) {
  const { redis, config } = fastify
  // Without Redis: the in-process store. With it: Redis, and that in-process store during outages.
  const local = createLoginThrottle(config.accountThrottle)
  fastify.decorate('loginThrottle', redis === null
    ? local
    : createLoginThrottle({ ...config.accountThrottle, store: createRedisStore(redis, local.store) }))
}, { name: 'login-throttle', dependencies: ['redis'] })
