import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { PrismaClient } from '../../generated/prisma/client.ts'

declare module 'fastify' {
  interface FastifyInstance {
    auditLog: ReturnType<typeof createAuditLog>
  }
}

export const AUDIT_EVENT_TYPES = [
  'sign_in', 'sign_in_failed', 'sign_out', 'session_revoked', 'password_changed', 'role_changed', 'user_created', 'user_deleted'
] as const
export type AuditEventType = typeof AUDIT_EVENT_TYPES[number]

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
            targetUid: entry.target?.uid.slice(0, 100) ?? null,
            ip: request.ip.slice(0, 64),
            userAgent: (request.headers['user-agent'] ?? '').slice(0, 300),
            detail: JSON.stringify(entry.detail ?? {})
          }
        })
      } catch (err) {
        request.log.error({ err, auditEvent: type }, 'could not write the audit event')
      }
    }
  }
}

export default fp(async function auditLog (fastify) {
  fastify.decorate('auditLog', createAuditLog(fastify))
}, { name: 'audit-log', dependencies: ['prisma'] })
