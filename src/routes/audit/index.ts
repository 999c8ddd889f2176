import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AUDIT_EVENT_TYPES, isAuditEventType, type AuditEventRow, type AuditEventType, type AuditFilters } from '../../plugins/app/audit-log.ts'
import { showInvisible } from '../../lib/visible-text.ts'

const PAGE_SIZE = 50
const UID_FILTER_MAX = 100
const DAY_MS = 24 * 60 * 60 * 1000

const EVENT_LABELS: Record<AuditEventType, string> = {
  sign_in: 'Signed in',
  sign_in_failed: 'Sign-in failed',
  sign_out: 'Signed out',
  session_revoked: 'Session revoked',
  password_changed: 'Password changed',
  role_changed: 'Role changed',
  user_created: 'User created',
  user_deleted: 'User deleted'
}

// Lenient on purpose (as /table): a stale, hand-edited or repeated parameter is ignored or
// reported on the form, never a bare 400 page. Repeated keys arrive as arrays.
const QueryValue = Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())]))
const AuditQuery = Type.Object({
  type: QueryValue,
  uid: QueryValue,
  from: QueryValue,
  to: QueryValue,
  page: QueryValue
})

const first = (value: string | string[] | undefined): string => (Array.isArray(value) ? value[0] : value) ?? ''

/** `YYYY-MM-DD` as midnight UTC, or null when it is not a real calendar date. */
function parseDay (text: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null
  const date = new Date(`${text}T00:00:00.000Z`)
  return Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text ? null : date
}

const shown = (text: string) => text.length > 40 ? `${text.slice(0, 40)}…` : text

interface ParsedQuery {
  filters: AuditFilters
  /** What the form shows back (as typed, except an unknown type, which falls back to "any"). */
  values: { type: string, uid: string, from: string, to: string }
  errors: Record<string, string>
}

/** The filters a querystring asks for; bad values become field errors or are dropped. */
function parseQuery (query: Record<string, string | string[] | undefined>): ParsedQuery {
  const values = {
    type: first(query.type),
    uid: first(query.uid).trim(),
    from: first(query.from).trim(),
    to: first(query.to).trim()
  }
  const errors: Record<string, string> = {}
  const pageText = first(query.page)
  const filters: AuditFilters = { page: /^\d{1,6}$/.test(pageText) ? Number(pageText) : 1 }

  if (isAuditEventType(values.type)) filters.type = values.type
  else values.type = ''

  if (values.uid.length > UID_FILTER_MAX) errors.uid = `User id: at most ${UID_FILTER_MAX} characters.`
  else if (values.uid !== '') filters.uid = values.uid

  for (const key of ['from', 'to'] as const) {
    if (values[key] === '') continue
    const day = parseDay(values[key])
    const label = key === 'from' ? 'From' : 'To'
    if (day === null) errors[key] = `${label}: "${shown(values[key])}" is not a date; use YYYY-MM-DD.`
    // "To" includes the whole day it names.
    else if (key === 'from') filters.from = day
    // Up to the end of that day; nothing can be later than 9999-12-31 (and the next day, in
    // year 10000, is no longer a four-digit date that compares as stored).
    else if (day.getUTCFullYear() < 9999 || day.getUTCMonth() < 11 || day.getUTCDate() < 31) filters.to = new Date(day.getTime() + DAY_MS)
  }
  if (filters.from !== undefined && filters.to !== undefined && filters.from >= filters.to) {
    errors.to = 'To: must be the same day as From or later.'
  }
  return { filters, values, errors }
}

/** Facts as `key: value` text; anything that is not a JSON object is shown as stored. */
function detailText (detail: string): string {
  try {
    const parsed: unknown = JSON.parse(detail)
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return Object.entries(parsed).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('; ')
    }
  } catch {
    // Not JSON (older or hand-written rows): shown as stored.
  }
  return detail
}

function toRow (event: AuditEventRow) {
  return {
    id: event.id,
    createdAt: event.createdAt.toISOString(),
    createdAtText: event.createdAt.toISOString().slice(0, 19).replace('T', ' ') + ' UTC',
    type: event.type,
    label: isAuditEventType(event.type) ? EVENT_LABELS[event.type] : event.type,
    // Text a visitor chose (a failed sign-in's user id, a User-Agent) with invisible characters shown.
    actorUid: event.actorUid === null ? null : showInvisible(event.actorUid),
    targetUid: event.targetUid === null ? null : showInvisible(event.targetUid),
    ip: event.ip,
    userAgent: event.userAgent === null ? null : showInvisible(event.userAgent),
    detail: showInvisible(detailText(event.detail))
  }
}

/** The audit trail for Admins (autohooks.ts guards it): filter, read, page through. */
const audit: FastifyPluginAsyncTypebox = async (fastify) => {
  const { auditLog } = fastify

  fastify.get('/', { schema: { querystring: AuditQuery } }, async function index (request, reply) {
    const { filters, values, errors } = parseQuery(request.query)
    const types = AUDIT_EVENT_TYPES.map(type => ({ value: type, label: EVENT_LABELS[type] }))
    const filtered = values.type !== '' || values.uid !== '' || values.from !== '' || values.to !== ''

    if (Object.keys(errors).length > 0) {
      reply.code(422)
      return reply.viewAsync('pages/audit/index', { types, values, errors, filtered, result: null })
    }

    const result = await auditLog.list(filters, PAGE_SIZE)
    // Pagination links keep the filters (the valid ones, as the form shows them).
    const base = new URLSearchParams(Object.entries(values).filter(([, v]) => v !== ''))
    const pageHref = (page: number) => {
      const params = new URLSearchParams(base)
      params.set('page', String(page))
      return `/audit?${params.toString()}`
    }
    return reply.viewAsync('pages/audit/index', {
      types,
      values,
      errors,
      filtered,
      result: {
        total: result.total,
        page: result.page,
        pages: result.pages,
        events: result.events.map(toRow),
        previousHref: result.page > 1 ? pageHref(result.page - 1) : null,
        nextHref: result.page < result.pages ? pageHref(result.page + 1) : null
      }
    })
  })
}

export default audit
