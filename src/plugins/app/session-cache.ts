import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type { Session } from '../../generated/prisma/client.ts'
import type { SessionWithUser } from './sessions-repository.ts'

declare module 'fastify' {
  interface FastifyInstance {
    sessionCache: SessionCache
  }
}

/** A change that makes cached entries wrong, as sent to the other instances. */
export type Invalidation =
  | { kind: 'session', id: string }
  | { kind: 'user', userId: number }
  | { kind: 'sessions-list', userId: number }

/** A cached value and when it stops being served (ms, from the cache's clock). */
interface Entry<V> {
  value: V
  until: number
}

/** The Redis channel invalidations travel on (after REDIS_KEY_PREFIX). */
export const INVALIDATION_CHANNEL = 'session-invalidations'

/**
 * Verified sessions (row + user) and each user's list of signed-in devices, kept in process for
 * a few seconds, so a signed-in page costs no database read.
 *
 * Correctness rules (docs/decisions/0019-redis.md):
 * - Everything that changes a session or a user forgets the entries at once on this instance
 *   (the sessions and users repositories call `forget*` after their write), and sends the same
 *   invalidation to the other instances when a bus (Redis pub/sub) is connected.
 * - A database read that started before an invalidation is not cached (`generation`): it may
 *   hold the row as it was before the change.
 * - With a bus configured, nothing is served from memory while the bus is down (the other
 *   instances' invalidations could be missed): every request reads the database, and the cache
 *   starts empty when the bus is back. Without a bus, other instances see a change within `ttlMs`.
 * - Only rows that exist are cached: random token ids cannot fill it.
 */
export class SessionCache {
  readonly #entries = new Map<string, Entry<SessionWithUser>>()
  readonly #lists = new Map<number, Entry<Session[]>>()
  #generation = 0
  #listGeneration = 0
  /** False while invalidations from other instances could be missed. */
  #trusted = true
  #publish: ((event: Invalidation) => void) | null = null

  constructor (readonly ttlMs: number, readonly maxEntries = 10_000, readonly now: () => number = Date.now) {}

  /** Whether entries are served at all (a zero time, or a bus that is down, turns the cache off). */
  get enabled (): boolean {
    return this.ttlMs > 0 && this.#trusted
  }

  /** Take it before reading a session, pass it to `set`: the row is dropped if a session or user was forgotten meanwhile. */
  get generation (): number {
    return this.#generation
  }

  /** The same for `setSessions` (any invalidation counts). */
  get listGeneration (): number {
    return this.#listGeneration
  }

  get (id: string): SessionWithUser | undefined {
    return this.#read(this.#entries, id)
  }

  set (session: SessionWithUser, generation = this.#generation): void {
    this.#write(this.#entries, session.id, session, generation === this.#generation)
  }

  /** A cached entry changed in a way that cannot revoke it (e.g. `lastSeenAt`): replaced in place, same expiry. */
  update (session: SessionWithUser): void {
    const entry = this.#entries.get(session.id)
    if (entry !== undefined) entry.value = session
  }

  /** The user's signed-in devices, as last read. */
  getSessions (userId: number): Session[] | undefined {
    return this.#read(this.#lists, userId)
  }

  setSessions (userId: number, sessions: Session[], generation = this.#listGeneration): void {
    this.#write(this.#lists, userId, sessions, generation === this.#listGeneration)
  }

  #read<K, V> (map: Map<K, Entry<V>>, key: K): V | undefined {
    if (!this.enabled) return undefined
    const entry = map.get(key)
    if (entry === undefined) return undefined
    if (entry.until <= this.now()) {
      map.delete(key)
      return undefined
    }
    return entry.value
  }

  #write<K, V> (map: Map<K, Entry<V>>, key: K, value: V, current: boolean): void {
    if (!this.enabled || !current) return
    map.delete(key)
    map.set(key, { value, until: this.now() + this.ttlMs })
    // Maps iterate in insertion order: the first key is the oldest entry.
    if (map.size > this.maxEntries) map.delete(map.keys().next().value!)
  }

  /** After a session was revoked or replaced. */
  forgetSession (id: string): void {
    this.#forget({ kind: 'session', id })
  }

  /** After a change to a user (role, name, password, deletion) or to all their sessions. */
  forgetUser (userId: number): void {
    this.#forget({ kind: 'user', userId })
  }

  /** After a new session of the user (their list of devices grew). */
  forgetSessionsList (userId: number): void {
    this.#forget({ kind: 'sessions-list', userId })
  }

  /** An invalidation sent by another instance: applied here, not sent on. */
  receive (event: Invalidation): void {
    this.#apply(event)
  }

  /**
   * Connects the cache to a bus to the other instances: `publish` sends this instance's
   * invalidations. Until `busUp()`, and whenever `busDown()`, nothing is served from memory.
   */
  attachBus (publish: (event: Invalidation) => void): void {
    this.#publish = publish
    this.busDown()
  }

  busUp (): void {
    this.clear()
    this.#trusted = true
  }

  busDown (): void {
    this.#trusted = false
    this.clear()
  }

  /** Forgets everything (and any read in flight). */
  clear (): void {
    this.#generation++
    this.#listGeneration++
    this.#entries.clear()
    this.#lists.clear()
  }

  get size (): number {
    return this.#entries.size
  }

  #forget (event: Invalidation): void {
    this.#apply(event)
    this.#publish?.(event)
  }

  #apply (event: Invalidation): void {
    this.#listGeneration++
    // A new session of a user changes no cached session: reads in flight may still be cached.
    if (event.kind !== 'sessions-list') this.#generation++
    switch (event.kind) {
      case 'session':
        this.#entries.delete(event.id)
        // The lists that show it (a user's list holds only their own sessions: at most one).
        for (const [userId, list] of this.#lists) {
          if (list.value.some(s => s.id === event.id)) this.#lists.delete(userId)
        }
        break
      case 'user':
        for (const [id, entry] of this.#entries) {
          if (entry.value.userId === event.userId) this.#entries.delete(id)
        }
        this.#lists.delete(event.userId)
        break
      case 'sessions-list':
        this.#lists.delete(event.userId)
        break
    }
  }
}

/** An invalidation as sent on the bus: the event and the instance that sent it. */
export function formatInvalidation (event: Invalidation, from: string): string {
  return JSON.stringify({ ...event, from })
}

/** An invalidation as read from the bus, or null for anything else (never trusted blindly). */
export function parseInvalidation (text: string): { event: Invalidation, from: string } | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const message = value as Record<string, unknown>
  const from = typeof message.from === 'string' ? message.from : ''
  if (message.kind === 'session' && typeof message.id === 'string') return { event: { kind: 'session', id: message.id }, from }
  if ((message.kind === 'user' || message.kind === 'sessions-list') && Number.isSafeInteger(message.userId)) {
    return { event: { kind: message.kind, userId: message.userId as number }, from }
  }
  return null
}

export default fp(async function sessionCache (fastify) {
  const cache = new SessionCache(fastify.config.session.cacheMs)
  fastify.decorate('sessionCache', cache)

  const { redis } = fastify
  if (redis === null || cache.ttlMs === 0) return
  // Other instances' changes arrive over Redis pub/sub; see the class comment for the outage rule.
  // This instance hears its own messages too: they carry its id and are skipped.
  const instanceId = randomUUID()
  cache.attachBus((event) => {
    // Redis is down: the outage is logged once, and the other instances' caches are off (unless
    // only this instance lost Redis: then they see the change within ttlMs, as without Redis).
    if (!redis.available) return
    redis.publish(INVALIDATION_CHANNEL, formatInvalidation(event, instanceId)).catch((err: Error) => {
      // The other instances then see the change within ttlMs at worst (their entries expire).
      fastify.log.warn({ reason: err.message, invalidation: event.kind }, 'could not send a session invalidation to the other instances')
    })
  })
  await redis.subscribe(INVALIDATION_CHANNEL, {
    message (text) {
      const message = parseInvalidation(text)
      if (message === null) fastify.log.warn('ignored a malformed session invalidation from Redis')
      else if (message.from !== instanceId) cache.receive(message.event)
    },
    up: () => cache.busUp(),
    down: () => cache.busDown()
  })
}, { name: 'session-cache', dependencies: ['redis'] })
