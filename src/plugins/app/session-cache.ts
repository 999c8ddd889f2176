import fp from 'fastify-plugin'
import type { SessionWithUser } from './sessions-repository.ts'

declare module 'fastify' {
  interface FastifyInstance {
    sessionCache: SessionCache
  }
}

/**
 * Verified sessions (row + user) kept in process for a few seconds, so a signed-in page costs
 * no database read. Everything that changes a session or a user on this instance forgets it at
 * once (sessions and users repositories); other instances see the change within `ttlMs`.
 * Only rows that exist are cached: random token ids cannot fill it.
 */
export class SessionCache {
  readonly #entries = new Map<string, { session: SessionWithUser, until: number }>()

  constructor (readonly ttlMs: number, readonly maxEntries = 10_000, readonly now: () => number = Date.now) {}

  get (id: string): SessionWithUser | undefined {
    const entry = this.#entries.get(id)
    if (entry === undefined) return undefined
    if (entry.until <= this.now()) {
      this.#entries.delete(id)
      return undefined
    }
    return entry.session
  }

  set (session: SessionWithUser): void {
    if (this.ttlMs <= 0) return
    this.#entries.delete(session.id)
    this.#entries.set(session.id, { session, until: this.now() + this.ttlMs })
    // Maps iterate in insertion order: the first key is the oldest entry.
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!)
  }

  forgetSession (id: string): void {
    this.#entries.delete(id)
  }

  /** After a change to a user (role, name, password, deletion) or to all their sessions. */
  forgetUser (userId: number): void {
    for (const [id, entry] of this.#entries) {
      if (entry.session.userId === userId) this.#entries.delete(id)
    }
  }

  get size (): number {
    return this.#entries.size
  }
}

export default fp(async function sessionCache (fastify) {
  fastify.decorate('sessionCache', new SessionCache(fastify.config.session.cacheMs))
}, { name: 'session-cache' })
