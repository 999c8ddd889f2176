import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Prisma, Session, User } from '../../generated/prisma/client.ts'

declare module 'fastify' {
  interface FastifyInstance {
    sessionsRepository: ReturnType<typeof createSessionsRepository>
  }
}

type Tx = Prisma.TransactionClient
export type SessionWithUser = Session & { user: User }

export interface NewSession {
  userId: number
  ttlSeconds: number
  userAgent: string
  ip: string
}

/** A token id: 128 random bits, URL-safe. */
export function newSessionId (): string {
  return randomBytes(16).toString('base64url')
}

/**
 * Sessions are rows, one per sign-in; the token's `jti` is the row id. A token is only as good
 * as its row: revoking the row signs the token out, whatever its expiry says.
 */
export function createSessionsRepository (fastify: FastifyInstance) {
  const { prisma } = fastify

  return {
    async create (input: NewSession, tx: Tx = prisma): Promise<Session> {
      const now = new Date()
      return tx.session.create({
        data: {
          id: newSessionId(),
          userId: input.userId,
          createdAt: now,
          lastSeenAt: now,
          expiresAt: new Date(now.getTime() + input.ttlSeconds * 1000),
          // Stored for the "active sessions" view only; bounded so a huge header costs nothing.
          userAgent: input.userAgent.slice(0, 300),
          ip: input.ip.slice(0, 64)
        }
      })
    },

    /** The session and its user, when the session is neither revoked nor expired. */
    async findActive (id: string, tx: Tx = prisma): Promise<SessionWithUser | null> {
      const session = await tx.session.findUnique({ where: { id }, include: { user: true } })
      if (session === null || session.revokedAt !== null || session.expiresAt.getTime() <= Date.now()) return null
      return session
    },

    async touch (id: string, tx: Tx = prisma): Promise<void> {
      await tx.session.updateMany({ where: { id, revokedAt: null }, data: { lastSeenAt: new Date() } })
    },

    async revoke (id: string, tx: Tx = prisma): Promise<void> {
      await tx.session.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } })
    },

    /** Revokes every live session of a user, except `exceptId` (the caller's own) when given. */
    async revokeAllForUser (userId: number, exceptId?: string, tx: Tx = prisma): Promise<number> {
      const { count } = await tx.session.updateMany({
        where: { userId, revokedAt: null, ...(exceptId === undefined ? {} : { id: { not: exceptId } }) },
        data: { revokedAt: new Date() }
      })
      return count
    },

    async listActiveForUser (userId: number, tx: Tx = prisma): Promise<Session[]> {
      return tx.session.findMany({
        where: { userId, revokedAt: null, expiresAt: { gt: new Date() } },
        orderBy: { lastSeenAt: 'desc' }
      })
    }
  }
}

export default fp(async function sessionsRepository (fastify) {
  fastify.decorate('sessionsRepository', createSessionsRepository(fastify))
}, { name: 'sessions-repository', dependencies: ['prisma'] })
