import { randomBytes } from 'node:crypto'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import fp from 'fastify-plugin'
import type { Prisma, PrismaClient, Session, User } from '../../generated/prisma/client.ts'
import type { SessionCache } from './session-cache.ts'

declare module 'fastify' {
  interface FastifyInstance {
    sessionsRepository: ReturnType<typeof createSessionsRepository>
  }
}

type Tx = Prisma.TransactionClient
export type SessionWithUser = Session & { user: User }

export interface SessionPolicy {
  /** Lifetime of one token (and its row), seconds. */
  ttlSeconds: number
  /** A session unused for this long ends, seconds. */
  idleTimeoutSeconds: number
  /** No session outlives sign-in + this, renewals included, seconds. */
  maxAgeSeconds: number
}

export interface NewSession {
  userId: number
  userAgent: string
  ip: string
  /** When the person signed in; a renewal passes the original time on. Default: now. */
  authenticatedAt?: Date
}

/** How long a replaced token keeps working, for requests that were already on their way. */
export const ROTATION_GRACE_MS = 60_000
/** Ended sessions are kept this long (for the record), then pruned. */
const PRUNE_AFTER_MS = 24 * 3600 * 1000
const PRUNE_BATCH = 500

/** A token id: 128 random bits, URL-safe. */
export function newSessionId (): string {
  return randomBytes(16).toString('base64url')
}

/**
 * Sessions are rows, one per token; the token's `jti` is the row id. A token is only as good as
 * its row: revoked, rotated (past the grace period), expired, idle too long or older than the
 * absolute limit, and the token stops working, whatever its own `exp` says.
 */
export function createSessionsRepository ({ prisma, sessionCache }: { prisma: PrismaClient, sessionCache?: SessionCache }, policy: SessionPolicy) {
  /** Whether a row still signs someone in at `now` (the same rules as `live`, for cached rows). */
  function isLive (session: Session, now: number): boolean {
    return session.revokedAt === null &&
      session.expiresAt.getTime() > now &&
      session.lastSeenAt.getTime() > now - policy.idleTimeoutSeconds * 1000 &&
      session.authenticatedAt.getTime() > now - policy.maxAgeSeconds * 1000 &&
      (session.rotatedAt === null || now - session.rotatedAt.getTime() <= ROTATION_GRACE_MS)
  }

  /** Where clause for rows that still sign someone in, as of `now`. */
  function live (now: Date): Prisma.SessionWhereInput {
    return {
      revokedAt: null,
      expiresAt: { gt: now },
      lastSeenAt: { gt: new Date(now.getTime() - policy.idleTimeoutSeconds * 1000) },
      authenticatedAt: { gt: new Date(now.getTime() - policy.maxAgeSeconds * 1000) }
    }
  }

  const repository = {
    policy,

    async create (input: NewSession, tx: Tx = prisma): Promise<Session> {
      const now = new Date()
      const authenticatedAt = input.authenticatedAt ?? now
      const absoluteEnd = authenticatedAt.getTime() + policy.maxAgeSeconds * 1000
      const session = await tx.session.create({
        data: {
          id: newSessionId(),
          userId: input.userId,
          createdAt: now,
          authenticatedAt,
          lastSeenAt: now,
          expiresAt: new Date(Math.min(now.getTime() + policy.ttlSeconds * 1000, absoluteEnd)),
          // Stored for the "active sessions" view only; bounded so a huge header costs nothing.
          userAgent: input.userAgent.slice(0, 300),
          ip: input.ip.slice(0, 64)
        }
      })
      // The user's list of devices grew.
      sessionCache?.forgetSessionsList(input.userId)
      return session
    },

    /**
     * The session and its user when the row still signs someone in (see `isLive`), from the
     * short-lived cache when it has them, else with one indexed query.
     */
    async findActive (id: string, tx: Tx = prisma): Promise<SessionWithUser | null> {
      let session = sessionCache?.get(id) ?? null
      if (session === null) {
        const generation = sessionCache?.generation
        session = await tx.session.findUnique({ where: { id }, include: { user: true } })
        if (session === null) return null
        sessionCache?.set(session, generation)
      }
      return isLive(session, Date.now()) ? session : null
    },

    /**
     * Replaces a session by a new row (new id, same sign-in time) for a renewed token. Only one
     * of several concurrent renewals wins; the others get null and keep the old token, which
     * still works for the grace period.
     */
    async rotate (old: Session, meta: { userAgent: string, ip: string }, tx: Tx = prisma): Promise<Session | null> {
      const { count } = await tx.session.updateMany({
        where: { id: old.id, rotatedAt: null, revokedAt: null },
        data: { rotatedAt: new Date() }
      })
      // After the write, so that no read of the old row can be cached again (see SessionCache).
      sessionCache?.forgetSession(old.id)
      if (count === 0) return null
      const next = await repository.create({ userId: old.userId, authenticatedAt: old.authenticatedAt, ...meta }, tx)
      // A sign-out of this sign-in that ran between the two writes above did not see the new row:
      // it must not outlive the sign-out (revoke ends the whole sign-in in one statement).
      const now = await tx.session.findUnique({ where: { id: old.id }, select: { revokedAt: true } })
      if (now === null || now.revokedAt !== null) {
        await tx.session.updateMany({ where: { id: next.id, revokedAt: null }, data: { revokedAt: new Date() } })
        sessionCache?.forgetSession(next.id)
        return null
      }
      return next
    },

    async touch (id: string, tx: Tx = prisma): Promise<void> {
      const lastSeenAt = new Date()
      await tx.session.updateMany({ where: { id, revokedAt: null }, data: { lastSeenAt } })
      const cached = sessionCache?.get(id)
      if (cached !== undefined) sessionCache!.update({ ...cached, lastSeenAt })
    },

    /**
     * Ends a session: every row of its sign-in, the ones it replaced and the one that replaced
     * it. A renewal keeps the old token working for a grace period (requests in flight); signing
     * out, or signing a device out, with either token must end both. The rows of one sign-in share
     * the user and the sign-in time (renewals carry it over); of those, a row that was replaced
     * has `rotatedAt`, and a row made by a renewal was created after the sign-in time, while a
     * separate sign-in (even in the same millisecond) was created at its own sign-in time. One
     * statement ends them all, and a renewal racing it sees the old row ended (see rotate).
     */
    async revoke (id: string, tx: Tx = prisma): Promise<boolean> {
      const row = await tx.session.findUnique({ where: { id }, select: { userId: true, authenticatedAt: true } })
      if (row === null) return false
      const { count } = await tx.session.updateMany({
        where: {
          userId: row.userId,
          authenticatedAt: row.authenticatedAt,
          revokedAt: null,
          OR: [{ id }, { rotatedAt: { not: null } }, { createdAt: { gt: prisma.session.fields.authenticatedAt } }]
        },
        data: { revokedAt: new Date() }
      })
      // After the write, so that no read of these rows can be cached again (see SessionCache).
      sessionCache?.forgetUser(row.userId)
      return count > 0
    },

    /** Revokes every live session of a user, except `exceptId` (the caller's own) when given. */
    async revokeAllForUser (userId: number, exceptId?: string, tx: Tx = prisma): Promise<number> {
      const { count } = await tx.session.updateMany({
        where: { userId, revokedAt: null, ...(exceptId === undefined ? {} : { id: { not: exceptId } }) },
        data: { revokedAt: new Date() }
      })
      sessionCache?.forgetUser(userId)
      return count
    },

    /**
     * The user's signed-in devices: one row each (replaced rows are not listed), from the cache
     * when it has them. For display: acting on one of them reads its row again.
     */
    async listActiveForUser (userId: number, tx: Tx = prisma): Promise<Session[]> {
      const cached = sessionCache?.getSessions(userId)
      if (cached !== undefined) return cached
      const generation = sessionCache?.listGeneration
      const sessions = await tx.session.findMany({
        where: { userId, rotatedAt: null, ...live(new Date()) },
        orderBy: { lastSeenAt: 'desc' }
      })
      sessionCache?.setSessions(userId, sessions, generation)
      return sessions
    },

    /**
     * Deletes rows that ended more than a day ago, in small batches with a pause between them,
     * so a large backlog never holds the event loop. Returns how many were deleted.
     */
    async prune (now = new Date()): Promise<number> {
      const cutoff = new Date(now.getTime() - PRUNE_AFTER_MS)
      const ended: Prisma.SessionWhereInput = {
        OR: [
          { expiresAt: { lt: cutoff } },
          { revokedAt: { lt: cutoff } },
          { rotatedAt: { lt: cutoff } },
          { lastSeenAt: { lt: new Date(cutoff.getTime() - policy.idleTimeoutSeconds * 1000) } },
          { authenticatedAt: { lt: new Date(cutoff.getTime() - policy.maxAgeSeconds * 1000) } }
        ]
      }
      let deleted = 0
      for (;;) {
        const batch = await prisma.session.findMany({ where: ended, select: { id: true }, take: PRUNE_BATCH })
        if (batch.length === 0) return deleted
        const { count } = await prisma.session.deleteMany({ where: { id: { in: batch.map(s => s.id) } } })
        deleted += count
        await yieldToEventLoop()
      }
    }
  }
  return repository
}

export default fp(async function sessionsRepository (fastify) {
  const { config } = fastify
  const repository = createSessionsRepository({ prisma: fastify.prisma, sessionCache: fastify.sessionCache }, {
    ttlSeconds: config.jwt.ttlSeconds,
    idleTimeoutSeconds: config.session.idleTimeoutSeconds,
    maxAgeSeconds: config.session.maxAgeSeconds
  })
  fastify.decorate('sessionsRepository', repository)

  // Ended sessions are pruned on a schedule, off the request path; the timer never keeps the
  // process alive and stops with the server.
  const interval = config.session.pruneIntervalSeconds
  if (interval > 0) {
    const timer = setInterval(() => {
      repository.prune().then(
        (count) => { if (count > 0) fastify.log.info({ count }, 'pruned ended sessions') },
        (err: unknown) => fastify.log.error({ err }, 'pruning sessions failed')
      )
    }, interval * 1000)
    timer.unref()
    fastify.addHook('onClose', async () => clearInterval(timer))
  }
}, { name: 'sessions-repository', dependencies: ['prisma', 'session-cache'] })
