import type { Session } from '../generated/prisma/client.ts'
import { memoizeByObject } from './memo.ts'
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

// What depends on the row alone, once per row: session rows are replaced, never changed in
// place (a touch caches a new object), and the session list is served from the session cache.
const rowView = memoizeByObject((session: Session) => ({
  signedInAt: session.authenticatedAt.toISOString(),
  lastSeenAt: session.lastSeenAt.toISOString(),
  expiresAt: session.expiresAt.toISOString(),
  device: describeUserAgent(session.userAgent),
  userAgent: session.userAgent,
  ip: session.ip
}))

/** A session as the profile page and /api/sessions show it. */
export function toSessionView (session: Session, handle: string, currentSessionId: string): SessionView {
  return { id: handle, ...rowView(session), current: session.id === currentSessionId }
}
