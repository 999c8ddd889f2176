import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { Prisma, PrismaClient } from '../../generated/prisma/client.ts'
import { normalizeUid } from './users-repository.ts'

declare module 'fastify' {
  interface FastifyInstance {
    auditLog: ReturnType<typeof createAuditLog>
  }
}

export const AUDIT_EVENT_TYPES = [
  'sign_in', 'sign_in_failed', 'sign_out', 'session_revoked', 'password_changed', 'role_changed', 'user_created', 'user_deleted'
] as const
export type AuditEventType = typeof AUDIT_EVENT_TYPES[number]

export function isAuditEventType (value: unknown): value is AuditEventType {
  return typeof value === 'string' && (AUDIT_EVENT_TYPES as readonly string[]).includes(value)
}

export interface AuditParty {
  id: number
  uid: string
}

export interface AuditEntry {
  /** Who did it (default: the signed-in user of the request, if any). */
  actor?: AuditParty | null
  /** Whom it concerns (for a failed sign-in: the typed user id, with id null). */
  target?: { id: number | null, uid: string } | null
  /** Extra facts. Never a password, hash or token. */
  detail?: Record<string, string | number | boolean | null>
}

/** What the audit page may narrow the trail by. */
export interface AuditFilters {
  type?: AuditEventType
  /** A user id, matched against the actor and the target after normalisation (as sign-in does). */
  uid?: string
  /** Events at or after this instant. */
  from?: Date
  /** Events before this instant (exclusive: pass the next midnight to include a whole day). */
  to?: Date
  /** 1-based; out-of-range pages are clamped to the first or last one. */
  page: number
}

// Only what the audit page shows: no more columns leave the database than are rendered.
const LIST_SELECT = {
  id: true,
  createdAt: true,
  type: true,
  actorId: true,
  actorUid: true,
  targetId: true,
  targetUid: true,
  ip: true,
  userAgent: true,
  detail: true
} satisfies Prisma.AuditEventSelect

export type AuditEventRow = Prisma.AuditEventGetPayload<{ select: typeof LIST_SELECT }>

export interface AuditPage {
  events: AuditEventRow[]
  total: number
  page: number
  pages: number
}

function whereFor (filters: AuditFilters): Prisma.AuditEventWhereInput {
  const where: Prisma.AuditEventWhereInput = {}
  if (filters.type !== undefined) where.type = filters.type
  if (filters.uid !== undefined) {
    const uid = normalizeUid(filters.uid)
    if (uid !== '') where.OR = [{ actorUid: uid }, { targetUid: uid }]
  }
  if (filters.from !== undefined || filters.to !== undefined) {
    where.createdAt = {
      ...(filters.from === undefined ? {} : { gte: filters.from }),
      ...(filters.to === undefined ? {} : { lt: filters.to })
    }
  }
  return where
}

// NUL cannot be stored in PostgreSQL text; a typed user id may carry one. Shown as U+FFFD instead.
const storable = (text: string): string => text.replaceAll('\u0000', '\uFFFD')

/**
 * The audit trail: one row per authentication event, with who, whom, from where. Writing it
 * never fails the request that caused it (a failure is logged instead).
 */
export function createAuditLog ({ prisma }: { prisma: PrismaClient }) {
  return {
    async record (request: FastifyRequest, type: AuditEventType, entry: AuditEntry = {}): Promise<void> {
      const actor = entry.actor === undefined ? request.user : entry.actor
      try {
        await prisma.auditEvent.create({
          data: {
            type,
            actorId: actor?.id ?? null,
            actorUid: actor?.uid ?? null,
            targetId: entry.target?.id ?? null,
            // Typed user ids can be anything: stored bounded; rendered escaped.
            targetUid: entry.target === undefined || entry.target === null ? null : storable(entry.target.uid.slice(0, 100)),
            ip: request.ip.slice(0, 64),
            userAgent: (request.headers['user-agent'] ?? '').slice(0, 300),
            detail: JSON.stringify(entry.detail ?? {})
          }
        })
      } catch (err) {
        request.log.error({ err, auditEvent: type }, 'could not write the audit event')
      }
    },

    /** One page of events matching `filters`, newest first, with the total and page count. */
    async list (filters: AuditFilters, pageSize = 50): Promise<AuditPage> {
      const take = Math.max(1, Math.trunc(pageSize))
      const where = whereFor(filters)
      const total = await prisma.auditEvent.count({ where })
      const pages = Math.max(1, Math.ceil(total / take))
      const page = Math.min(Math.max(1, Math.trunc(filters.page) || 1), pages)
      const events = await prisma.auditEvent.findMany({
        where,
        // The id breaks ties between events written in the same millisecond.
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        skip: (page - 1) * take,
        take,
        select: LIST_SELECT
      })
      return { events, total, page, pages }
    }
  }
}

export default fp(async function auditLog (fastify) {
  fastify.decorate('auditLog', createAuditLog(fastify))
}, { name: 'audit-log', dependencies: ['prisma'] })
