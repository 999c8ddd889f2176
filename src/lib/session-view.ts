import type { Session } from '../generated/prisma/client.ts'
import { describeUserAgent } from './user-agent.ts'

export interface SessionView {
  /** Opaque handle for revoking it (never the token id). */
  id: string
  signedInAt: string
  lastSeenAt: string
  expiresAt: string
  device: string
  userAgent: string
  ip: string
  current: boolean
}

/** A session as the profile page and /api/sessions show it. */
export function toSessionView (session: Session, handle: string, currentSessionId: string): SessionView {
  return {
    id: handle,
    signedInAt: session.authenticatedAt.toISOString(),
    lastSeenAt: session.lastSeenAt.toISOString(),
    expiresAt: session.expiresAt.toISOString(),
    device: describeUserAgent(session.userAgent),
    userAgent: session.userAgent,
    ip: session.ip,
    current: session.id === currentSessionId
  }
}
