import type { Session } from '../generated/prisma/client.ts'
import { memoizeByObject } from './memo.ts'
import { describeUserAgent } from './user-agent.ts'
import { showInvisible } from './visible-text.ts'

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
  // The User-Agent is whatever the client sent: invisible characters written out, as in the
  // audit trail, so that a device name cannot hide or reorder text (`Chrome\u202E…`).
  device: showInvisible(describeUserAgent(session.userAgent)),
  userAgent: showInvisible(session.userAgent),
  ip: session.ip
}))

/** A session as the profile page and /api/sessions show it. */
export function toSessionView (session: Session, handle: string, currentSessionId: string): SessionView {
  return { id: handle, ...rowView(session), current: session.id === currentSessionId }
}
