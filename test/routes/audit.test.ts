import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { build, signIn } from '../helper.ts'
import { createAdmin, createUser } from '../factories.ts'
import type { AuditEventType } from '../../src/plugins/app/audit-log.ts'

/** Just what `auditLog.record()` reads from a request: who is signed in, the IP, the browser. */
function fakeRequest (app: FastifyInstance, options: { user?: { id: number, uid: string } | null, ip?: string, userAgent?: string } = {}): FastifyRequest {
  return {
    user: options.user ?? null,
    ip: options.ip ?? '203.0.113.7',
    headers: { 'user-agent': options.userAgent ?? 'TestBrowser/1.0' },
    log: app.log
  } as unknown as FastifyRequest
}

/** A row written at a chosen time (record() always stamps "now"). */
async function eventAt (app: FastifyInstance, createdAt: string, type: AuditEventType, fields: { actorUid?: string, targetUid?: string } = {}) {
  await app.prisma.auditEvent.create({ data: { createdAt: new Date(createdAt), type, ...fields } })
}

async function asAdmin (app: FastifyInstance): Promise<string> {
  const { user } = await createAdmin(app)
  return signIn(app, user.id)
}

/** The values of the Event column, top to bottom. */
const eventTypes = (html: string) => [...html.matchAll(/<tr data-type="([^"]+)">/g)].map(m => m[1])

test('an Admin sees recorded events, newest first, with time, actor, target, IP, browser and details', async (t) => {
  const app = await build(t)
  const { user: admin } = await createAdmin(app)
  const cookie = await signIn(app, admin.id)
  await app.auditLog.record(fakeRequest(app), 'sign_in_failed', { target: { id: null, uid: 'nobody' }, detail: { reason: 'unknown user' } })
  await app.auditLog.record(fakeRequest(app, { user: admin, ip: '198.51.100.9', userAgent: 'Firefox/140' }), 'role_changed', {
    target: { id: 99, uid: 'niko' },
    detail: { from: 'User', to: 'Admin' }
  })

  const res = await app.inject({ url: '/audit', headers: { cookie } })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['cache-control'], 'no-store')
  assert.match(res.body, /<h1>Audit trail<\/h1>/)
  assert.deepEqual(eventTypes(res.body), ['role_changed', 'sign_in_failed'])
  assert.match(res.body, /<td class="nowrap"><time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<\/time><\/td>/)
  assert.match(res.body, new RegExp(`<td>Role changed</td>\\s*<td>${admin.uid}</td>\\s*<td>niko</td>\\s*<td>198\\.51\\.100\\.9</td>\\s*<td class="user-agent">Firefox/140</td>\\s*<td>from: User; to: Admin</td>`))
  assert.match(res.body, /<td>Sign-in failed<\/td>\s*<td><\/td>\s*<td>nobody<\/td>/)
  assert.match(res.body, /2 events\./)
  // The navbar offers the page to Admins and marks it as the current one.
  assert.match(res.body, /<a href="\/audit" aria-current="page">Audit<\/a>/)
})

test('the filter form has a label for every field and says when nothing was recorded', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/audit', headers: { cookie: await asAdmin(app) } })
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /<form method="get" action="\/audit"/)
  for (const [id, label] of [['field-type', 'Event'], ['field-uid', 'User id'], ['field-from', 'From'], ['field-to', 'To']]) {
    assert.match(res.body, new RegExp(`<label for="${id}">${label}</label>`), id)
    assert.match(res.body, new RegExp(`id="${id}"`), id)
  }
  assert.match(res.body, /<option value="" selected>any<\/option>/)
  assert.match(res.body, /<button type="submit">Filter<\/button>/)
  assert.match(res.body, /No events have been recorded yet\./)
  assert.doesNotMatch(res.body, /<table/)
})

test('filters by event type, by user id (actor or target, any case) and by date range', async (t) => {
  const app = await build(t)
  const cookie = await asAdmin(app)
  await eventAt(app, '2026-01-10T08:00:00Z', 'sign_in', { actorUid: 'ada', targetUid: 'ada' })
  await eventAt(app, '2026-01-11T09:00:00Z', 'sign_in_failed', { targetUid: 'ada' })
  await eventAt(app, '2026-01-12T23:59:59Z', 'role_changed', { actorUid: 'ada', targetUid: 'bob' })
  await eventAt(app, '2026-01-13T00:00:00Z', 'sign_out', { actorUid: 'bob' })
  const get = (query: string) => app.inject({ url: `/audit?${query}`, headers: { cookie } })

  const byType = await get('type=sign_in_failed')
  assert.equal(byType.statusCode, 200)
  assert.deepEqual(eventTypes(byType.body), ['sign_in_failed'])
  assert.match(byType.body, /<option value="sign_in_failed" selected>Sign-in failed<\/option>/)

  // Normalised as sign-in ids are: NFKC, trimmed, lower case (a fullwidth "Ａ" is an "a").
  const byUid = await get(`uid=${encodeURIComponent('  ＡDA ')}`)
  assert.deepEqual(eventTypes(byUid.body), ['role_changed', 'sign_in_failed', 'sign_in'])
  assert.deepEqual(eventTypes((await get('uid=bob')).body), ['sign_out', 'role_changed'])

  // Both ends are whole UTC days, inclusive.
  const range = await get('from=2026-01-11&to=2026-01-12')
  assert.deepEqual(eventTypes(range.body), ['role_changed', 'sign_in_failed'])
  assert.match(range.body, /id="field-from" name="from" type="date" value="2026-01-11"/)
  assert.deepEqual(eventTypes((await get('from=2026-01-13')).body), ['sign_out'])
  assert.deepEqual(eventTypes((await get('to=2026-01-10')).body), ['sign_in'])
  // The last and first days a date field can hold are bounds like any other.
  assert.deepEqual(eventTypes((await get('to=9999-12-31')).body), ['sign_out', 'role_changed', 'sign_in_failed', 'sign_in'])
  assert.deepEqual(eventTypes((await get('from=0001-01-01&to=9999-12-31')).body), ['sign_out', 'role_changed', 'sign_in_failed', 'sign_in'])
  assert.deepEqual(eventTypes((await get('from=9999-12-31')).body), [])

  const combined = await get('type=role_changed&uid=bob&from=2026-01-01&to=2026-01-31')
  assert.deepEqual(eventTypes(combined.body), ['role_changed'])
  const none = await get('type=user_deleted')
  assert.match(none.body, /No events match these filters\./)
  assert.match(none.body, /href="\/audit">Clear filters</)
})

test('pages through the events 50 at a time, keeping the filters in the links', async (t) => {
  const app = await build(t)
  const cookie = await asAdmin(app)
  const base = Date.parse('2026-02-01T00:00:00Z')
  await app.prisma.auditEvent.createMany({
    data: Array.from({ length: 120 }, (_, i) => ({
      createdAt: new Date(base + i * 60_000),
      type: i % 2 === 0 ? 'sign_in' : 'sign_out',
      actorUid: 'ada',
      detail: JSON.stringify({ n: i })
    }))
  })

  const first = await app.inject({ url: '/audit?type=sign_in&uid=ada', headers: { cookie } })
  assert.equal(first.statusCode, 200)
  assert.equal(eventTypes(first.body).length, 50)
  assert.match(first.body, /60 events, page 1 of 2\./)
  // Newest first: the last sign_in written (n = 118) heads the list.
  assert.match(first.body, /<td>n: 118<\/td>[\s\S]*<td>n: 20<\/td>/)
  assert.doesNotMatch(first.body, /rel="prev"/)
  assert.match(first.body, /<a href="\/audit\?type=sign_in&amp;uid=ada&amp;page=2" rel="next">Older events<\/a>/)

  const second = await app.inject({ url: '/audit?type=sign_in&uid=ada&page=2', headers: { cookie } })
  assert.equal(eventTypes(second.body).length, 10)
  assert.match(second.body, /<td>n: 18<\/td>[\s\S]*<td>n: 0<\/td>/)
  assert.match(second.body, /<a href="\/audit\?type=sign_in&amp;uid=ada&amp;page=1" rel="prev">Newer events<\/a>/)
  assert.doesNotMatch(second.body, /rel="next"/)

  // Past the end: the last page.
  const beyond = await app.inject({ url: '/audit?type=sign_in&uid=ada&page=999', headers: { cookie } })
  assert.match(beyond.body, /page 2 of 2\./)
})

test('the audit log lists pages and totals on its own', async (t) => {
  const app = await build(t)
  for (let i = 0; i < 5; i++) await app.auditLog.record(fakeRequest(app), 'sign_out', { actor: { id: i, uid: `u${i}` } })
  const page = await app.auditLog.list({ page: 2 }, 2)
  assert.deepEqual({ total: page.total, page: page.page, pages: page.pages }, { total: 5, page: 2, pages: 3 })
  assert.deepEqual(page.events.map(e => e.actorUid), ['u2', 'u1'])
  // Only the columns the page shows leave the database.
  assert.deepEqual(Object.keys(page.events[0]).sort(), ['actorId', 'actorUid', 'createdAt', 'detail', 'id', 'ip', 'targetId', 'targetUid', 'type', 'userAgent'])
  const empty = await app.auditLog.list({ type: 'user_deleted', page: 3 })
  assert.deepEqual(empty, { events: [], total: 0, page: 1, pages: 1 })
})

test('a signed-in User gets the 403 page and no Audit link', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const res = await app.inject({ url: '/audit', headers: { cookie } })
  assert.equal(res.statusCode, 403)
  assert.match(res.body, /<h1>Forbidden<\/h1>/)
  assert.doesNotMatch(res.body, /<table/)
  const home = await app.inject({ url: '/', headers: { cookie } })
  assert.doesNotMatch(home.body, /href="\/audit"/)
})

test('signed-out visitors are sent to /login with next (303) and see no Audit link', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/audit' })
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/login?next=%2Faudit')
  const filtered = await app.inject({ url: '/audit?type=sign_in' })
  assert.equal(filtered.headers.location, `/login?next=${encodeURIComponent('/audit?type=sign_in')}`)
  assert.doesNotMatch((await app.inject({ url: '/' })).body, /href="\/audit"/)
})

test('malformed and unknown filters are ignored or reported on the form, never a 500 or a bare 400', async (t) => {
  const app = await build(t)
  const cookie = await asAdmin(app)
  await eventAt(app, '2026-03-01T12:00:00Z', 'sign_in', { actorUid: 'ada' })
  const ignored = [
    'type=drop_table',
    'type=sign_in&type=sign_out',
    'page=abc',
    'page=-1',
    'page=1e9',
    'page=99999999999999999999',
    'sort=passwordHash&extra=1',
    'uid=',
    'uid[]=x&from[a]=b',
    '__proto__[x]=1&constructor=1',
    `type=${'x'.repeat(5000)}`
  ]
  for (const query of ignored) {
    const res = await app.inject({ url: `/audit?${query}`, headers: { cookie } })
    assert.equal(res.statusCode, 200, query)
    assert.deepEqual(eventTypes(res.body), ['sign_in'], query)
  }

  const badDates = await app.inject({ url: '/audit?from=2026-02-30&to=yesterday', headers: { cookie } })
  assert.equal(badDates.statusCode, 422)
  for (const field of ['from', 'to']) {
    assert.match(badDates.body, new RegExp(`id="field-${field}"[^>]*aria-invalid="true"[^>]*aria-describedby="field-${field}-error"`), field)
  }
  assert.match(badDates.body, /id="field-from-error">From: &quot;2026-02-30&quot; is not a date; use YYYY-MM-DD\.</)
  assert.match(badDates.body, /Correct the highlighted filters to see events\./)
  assert.doesNotMatch(badDates.body, /<table/)

  const backwards = await app.inject({ url: '/audit?from=2026-03-02&to=2026-03-01', headers: { cookie } })
  assert.equal(backwards.statusCode, 422)
  assert.match(backwards.body, /id="field-to"[^>]*aria-invalid="true"/)

  const longUid = await app.inject({ url: `/audit?uid=${'a'.repeat(101)}`, headers: { cookie } })
  assert.equal(longUid.statusCode, 422)
  assert.match(longUid.body, /id="field-uid"[^>]*aria-invalid="true"/)
})

test('invisible characters a visitor sent (bidi controls, zero-width) are shown as \\u{…} in the audit trail', async (t) => {
  const app = await build(t)
  const cookie = await asAdmin(app)
  const spoof = 'toby\u202E\u2066nimda\u200B\u1160'
  const failed = await app.inject({ method: 'POST', url: '/api/authenticate', headers: { 'user-agent': 'UA\u202Ex' }, payload: { uid: spoof, password: 'wrong-password' } })
  assert.equal(failed.statusCode, 401)
  const list = await app.inject({ url: '/audit', headers: { cookie } })
  assert.equal(list.statusCode, 200)
  assert.ok(list.body.includes('toby\\u{202E}\\u{2066}nimda\\u{200B}\\u{1160}'), 'the user id as sent, made visible')
  assert.ok(list.body.includes('UA\\u{202E}x'), 'the browser as sent, made visible')
  assert.doesNotMatch(list.body, /[\u202E\u2066\u200B\u1160]/u)
})

test('hostile text in events and filters is shown escaped, never as markup', async (t) => {
  const app = await build(t)
  const cookie = await asAdmin(app)
  const attack = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
  await app.auditLog.record(fakeRequest(app, { userAgent: attack }), 'sign_in_failed', {
    target: { id: null, uid: attack },
    detail: { note: attack }
  })
  await app.prisma.auditEvent.create({ data: { type: '<b>odd</b>', detail: attack } })

  const res = await app.inject({ url: `/audit?uid=${encodeURIComponent(attack)}&from=${encodeURIComponent(attack)}`, headers: { cookie } })
  assert.equal(res.statusCode, 422)
  assert.doesNotMatch(res.body, /<script>alert|<img src=x|<b>odd/)

  const list = await app.inject({ url: '/audit', headers: { cookie } })
  assert.equal(list.statusCode, 200)
  const escaped = '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'
  assert.ok(list.body.split(escaped).length - 1 >= 4, 'target, browser and both details are escaped')
  assert.match(list.body, /<td>&lt;b&gt;odd&lt;\/b&gt;<\/td>/)
  assert.doesNotMatch(list.body, /<script>alert|<img src=x|<b>odd/)

  const filtered = await app.inject({ url: `/audit?uid=${encodeURIComponent(attack.slice(0, 90))}`, headers: { cookie } })
  assert.equal(filtered.statusCode, 200)
  assert.doesNotMatch(filtered.body, /<script>alert|<img src=x/)
  assert.match(filtered.body, /value="&lt;script&gt;/)
})
