import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import appPlugin, { serverOptions } from '../../src/app.ts'
import { build, cookiesFrom, mergeCookies, signIn, submitForm } from '../helper.ts'
import { createAdmin, createUser } from '../factories.ts'
import { forge } from '../security/forge.ts'
import { ROTATION_GRACE_MS } from '../../src/plugins/app/sessions-repository.ts'

const nowSeconds = () => Math.floor(Date.now() / 1000)

/** A session row and a token for it issued `ageSeconds` ago (lifetime: the configured TTL). */
async function agedToken (app: FastifyInstance, userId: number, ageSeconds: number, key = app.config.jwt.secret) {
  const ttl = app.config.jwt.ttlSeconds
  const issuedAt = new Date(Date.now() - ageSeconds * 1000)
  const session = await app.prisma.session.create({
    data: { id: randomBytes(16).toString('base64url'), userId, createdAt: issuedAt, authenticatedAt: issuedAt, lastSeenAt: new Date(), expiresAt: new Date(issuedAt.getTime() + ttl * 1000) }
  })
  const iat = nowSeconds() - ageSeconds
  const token = forge({ alg: 'HS256', typ: 'JWT' }, { sub: String(userId), jti: session.id, iss: app.config.jwt.issuer, aud: app.config.jwt.audience, iat, exp: iat + ttl }, key)
  return { session, cookie: `${app.config.cookie.name}=${token}` }
}

const tokenCookie = (app: FastifyInstance, res: { cookies: Array<{ name: string, value: string }> }) =>
  res.cookies.find(c => c.name === app.config.cookie.name && c.value !== '')

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())

// Tests that change session rows behind the app's back read the database on every request.
const NO_CACHE = { SESSION_CACHE_MS: '0' }

test('a token past half its life is renewed on use: new jti, same sign-in time; the old one works only for a grace period', async (t) => {
  const app = await build(t, NO_CACHE)
  const { user } = await createUser(app)
  const ttl = app.config.jwt.ttlSeconds
  const { session, cookie } = await agedToken(app, user.id, Math.ceil(ttl * 0.6))

  const res = await app.inject({ url: '/profile', headers: { cookie } })
  assert.equal(res.statusCode, 200)
  const renewed = tokenCookie(app, res)
  assert.ok(renewed, 'a new cookie is set')
  const claims = claimsOf(renewed.value)
  assert.notEqual(claims.jti, session.id)
  assert.equal(claims.exp - claims.iat, ttl)
  const next = await app.prisma.session.findUniqueOrThrow({ where: { id: claims.jti } })
  assert.equal(next.authenticatedAt.getTime(), session.authenticatedAt.getTime())
  const old = await app.prisma.session.findUniqueOrThrow({ where: { id: session.id } })
  assert.ok(old.rotatedAt instanceof Date)

  // Requests already on their way with the old token still work, and do not renew again.
  const inFlight = await app.inject({ url: '/api/id', headers: { cookie } })
  assert.equal(inFlight.statusCode, 200)
  assert.equal(tokenCookie(app, inFlight), undefined)
  // After the grace period the old token is dead; the new one lives on.
  await app.prisma.session.update({ where: { id: session.id }, data: { rotatedAt: new Date(Date.now() - ROTATION_GRACE_MS - 1000) } })
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: `token=${renewed.value}` } })).statusCode, 200)
  // The profile lists one device, not two.
  const page = await app.inject({ url: '/profile', headers: { cookie: `token=${renewed.value}` } })
  assert.equal((page.body.match(/\(this session\)/g) ?? []).length, 1)
  assert.equal((page.body.match(/action="\/profile\/sessions\/[\w-]{22}\/revoke"/g) ?? []).length, 1)
})

test('a renewal or a cleared cookie on a request for a public file is never cacheable (Set-Cookie means no-store)', async (t) => {
  const app = await build(t, NO_CACHE)
  const { user } = await createUser(app)
  const { cookie } = await agedToken(app, user.id, Math.ceil(app.config.jwt.ttlSeconds * 0.6))
  const renewed = await app.inject({ url: '/css/app.css', headers: { cookie } })
  assert.equal(renewed.statusCode, 200)
  assert.ok(tokenCookie(app, renewed), 'the session was renewed on this request')
  assert.equal(renewed.headers['cache-control'], 'no-store')
  const cleared = await app.inject({ url: '/robots.txt', headers: { cookie: `${app.config.cookie.name}=not-a-token` } })
  assert.equal(cleared.statusCode, 200)
  assert.ok(cleared.cookies.some(c => c.name === app.config.cookie.name && c.value === ''), 'the bad cookie is cleared')
  assert.equal(cleared.headers['cache-control'], 'no-store')
  // Without a cookie to set, the file keeps its own caching, signed in or not.
  const plain = await app.inject({ url: '/css/app.css', headers: { cookie: await signIn(app, user.id) } })
  assert.equal(plain.headers['set-cookie'], undefined)
  assert.equal(plain.headers['cache-control'], 'public, max-age=3600')
})

test('signing out after a renewal ends the replaced token too, with no grace period (page, API, another device)', async (t) => {
  // With the session cache on (the default): a renewed session's old token was cached as valid.
  const app = await build(t)
  const { user } = await createUser(app)
  const ttl = app.config.jwt.ttlSeconds
  const renewedPair = async () => {
    const { cookie: old } = await agedToken(app, user.id, Math.ceil(ttl * 0.6))
    const res = await app.inject({ url: '/api/id', headers: { cookie: old } })
    assert.equal(res.statusCode, 200)
    const renewed = tokenCookie(app, res)
    assert.ok(renewed, 'renewed')
    const fresh = `${app.config.cookie.name}=${renewed.value}`
    assert.equal((await app.inject({ url: '/api/id', headers: { cookie: old } })).statusCode, 200, 'the old token is in its grace period')
    return { old, fresh }
  }
  const assertEnded = async (cookie: string, what: string) => {
    assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401, `${what}: API`)
    const page = await app.inject({ url: '/profile', headers: { cookie } })
    assert.equal(page.statusCode, 303, `${what}: page`)
  }

  const api = await renewedPair()
  assert.equal((await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie: api.fresh } })).statusCode, 200)
  await assertEnded(api.fresh, 'API sign-out, new token')
  await assertEnded(api.old, 'API sign-out, replaced token')

  const page = await renewedPair()
  assert.equal((await submitForm(app, '/logout', {}, { cookie: page.fresh })).statusCode, 303)
  await assertEnded(page.old, 'page sign-out, replaced token')

  const device = await renewedPair()
  const other = await signIn(app, user.id)
  const handle = (await app.inject({ url: '/api/sessions', headers: { cookie: device.fresh } })).json<Array<{ id: string, current: boolean }>>().find(s => s.current)!.id
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/sessions/${handle}`, headers: { cookie: other } })).statusCode, 200)
  await assertEnded(device.fresh, 'signed out from another device, new token')
  await assertEnded(device.old, 'signed out from another device, replaced token')
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: other } })).statusCode, 200, 'the other device is still signed in')
})

test('signing out with the replaced token of a renewal ends the new token too (page, API)', async (t) => {
  // The old token still works for its grace period; a sign-out made with it must not leave the
  // renewed session alive (a copy of the old cookie could otherwise renew itself and live on).
  const app = await build(t)
  const { user } = await createUser(app)
  const ttl = app.config.jwt.ttlSeconds
  for (const how of ['api', 'page'] as const) {
    const { cookie: old } = await agedToken(app, user.id, Math.ceil(ttl * 0.6))
    const renewed = tokenCookie(app, await app.inject({ url: '/api/id', headers: { cookie: old } }))
    assert.ok(renewed, `${how}: renewed`)
    const fresh = `${app.config.cookie.name}=${renewed.value}`
    const out = how === 'api'
      ? await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie: old } })
      : await submitForm(app, '/logout', {}, { cookie: old })
    assert.equal(out.statusCode, how === 'api' ? 200 : 303, `${how}: signed out with the old token`)
    assert.equal((await app.inject({ url: '/api/id', headers: { cookie: fresh } })).statusCode, 401, `${how}: the new token is ended`)
    assert.equal((await app.inject({ url: '/api/id', headers: { cookie: old } })).statusCode, 401, `${how}: the old token is ended`)
    const row = await app.prisma.session.findUniqueOrThrow({ where: { id: claimsOf(renewed.value).jti } })
    assert.ok(row.revokedAt instanceof Date, `${how}: the new row is revoked`)
  }
})

test('a renewal that races a sign-out of the same sign-in does not leave a live session', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const ttl = app.config.jwt.ttlSeconds
  const { cookie } = await agedToken(app, user.id, Math.ceil(ttl * 0.6))
  const id = claimsOf(cookie.slice(cookie.indexOf('=') + 1)).jti
  const session = await app.prisma.session.findUniqueOrThrow({ where: { id } })
  // The sign-out lands between the renewal's two writes: after the old row is marked replaced,
  // before the new row exists.
  const create = app.sessionsRepository.create
  t.mock.method(app.sessionsRepository, 'create', async (...args: Parameters<typeof create>) => {
    assert.equal(await app.sessionsRepository.revoke(id), true)
    return create.apply(app.sessionsRepository, args)
  })
  assert.equal(await app.sessionsRepository.rotate(session, { userAgent: 'test', ip: '127.0.0.1' }), null, 'the renewal gives no new session')
  const live = await app.prisma.session.count({ where: { userId: user.id, revokedAt: null } })
  assert.equal(live, 0, 'no session of that sign-in is left')
})

test('a young token is not renewed', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { cookie } = await agedToken(app, user.id, 60)
  const res = await app.inject({ url: '/profile', headers: { cookie } })
  assert.equal(res.statusCode, 200)
  assert.equal(tokenCookie(app, res), undefined)
})

test('concurrent requests renew a token once', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { cookie } = await agedToken(app, user.id, Math.ceil(app.config.jwt.ttlSeconds * 0.75))
  const replies = await Promise.all(Array.from({ length: 5 }, () => app.inject({ url: '/api/id', headers: { cookie } })))
  assert.ok(replies.every(r => r.statusCode === 200))
  assert.equal(replies.filter(r => tokenCookie(app, r) !== undefined).length, 1)
  assert.equal(await app.prisma.session.count({ where: { userId: user.id } }), 2)
})

test('no session outlives the absolute limit, renewals included', async (t) => {
  const app = await build(t, { JWT_TTL: '3600', SESSION_MAX_AGE: '7200' })
  const { user } = await createUser(app)
  // Signed in 100 minutes ago, token 40 minutes old: renewal may add only the 20 minutes left.
  const { session, cookie } = await agedToken(app, user.id, 40 * 60)
  await app.prisma.session.update({ where: { id: session.id }, data: { authenticatedAt: new Date(Date.now() - 100 * 60 * 1000) } })
  const res = await app.inject({ url: '/api/id', headers: { cookie } })
  assert.equal(res.statusCode, 200)
  const renewed = tokenCookie(app, res)
  assert.ok(renewed)
  const claims = claimsOf(renewed.value)
  assert.ok(Math.abs(claims.exp - (nowSeconds() + 20 * 60)) <= 2, `exp ${claims.exp - nowSeconds()} s from now`)

  const expired = await agedToken(app, user.id, 60)
  await app.prisma.session.update({ where: { id: expired.session.id }, data: { authenticatedAt: new Date(Date.now() - 7201 * 1000) } })
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: expired.cookie } })).statusCode, 401)
  const page = await app.inject({ url: '/profile', headers: { cookie: expired.cookie } })
  assert.equal(page.statusCode, 303)
  assert.ok(page.cookies.some(c => c.name === 'token' && c.value === ''), 'the dead cookie is cleared')
})

test('a session unused for longer than the idle limit ends', async (t) => {
  const app = await build(t, { SESSION_IDLE_TIMEOUT: '600', ...NO_CACHE })
  const { user } = await createUser(app)
  const { session, cookie } = await agedToken(app, user.id, 60)
  await app.prisma.session.update({ where: { id: session.id }, data: { lastSeenAt: new Date(Date.now() - 599 * 1000) } })
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 200, 'just inside the limit (and now touched)')
  await app.prisma.session.update({ where: { id: session.id }, data: { lastSeenAt: new Date(Date.now() - 601 * 1000) } })
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)
})

test('key rotation: tokens of the previous key still work and are re-issued with the new one; unknown keys never', async (t) => {
  const newKey = randomBytes(48).toString('base64url')
  const oldKey = randomBytes(48).toString('base64url')
  const app = await build(t, { JWT_SECRET: `${newKey},${oldKey}` })
  const { user } = await createUser(app)
  const { cookie } = await agedToken(app, user.id, 60, oldKey)
  const res = await app.inject({ url: '/api/id', headers: { cookie } })
  assert.equal(res.statusCode, 200)
  const renewed = tokenCookie(app, res)
  assert.ok(renewed, 'upgraded to the newest key on first use')
  const header = JSON.parse(Buffer.from(renewed.value.split('.')[0], 'base64url').toString())
  const newest = await app.inject({ url: '/api/id', headers: { cookie: `token=${renewed.value}` } })
  assert.equal(newest.statusCode, 200)
  assert.equal(tokenCookie(app, newest), undefined)
  assert.equal(typeof header.kid, 'string')

  const stranger = await agedToken(app, user.id, 60, randomBytes(48).toString('base64url'))
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: stranger.cookie } })).statusCode, 401)

  // Once the old key leaves JWT_SECRET, its tokens stop working.
  const later = await build(t, { JWT_SECRET: newKey })
  const { user: other } = await createUser(later)
  const leftover = await agedToken(later, other.id, 60, oldKey)
  assert.equal((await later.inject({ url: '/api/id', headers: { cookie: leftover.cookie } })).statusCode, 401)
})

test('forms stay valid when the token is renewed between showing and sending them', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { cookie } = await agedToken(app, user.id, 60)
  const page = await app.inject({ url: '/profile', headers: { cookie } })
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]
  const formCookies = mergeCookies(cookie, cookiesFrom(page))
  // Renew the session in between (as another tab would).
  const aged = await app.prisma.session.findFirstOrThrow({ where: { userId: user.id } })
  const { cookie: renewedFrom } = await agedToken(app, user.id, Math.ceil(app.config.jwt.ttlSeconds * 0.9))
  await app.prisma.session.update({ where: { id: claimsOf(renewedFrom.split('=')[1]).jti }, data: { authenticatedAt: aged.authenticatedAt } })
  const renewal = await app.inject({ url: '/users', headers: { cookie: renewedFrom } })
  const renewed = tokenCookie(app, renewal)!
  const res = await app.inject({
    method: 'POST',
    url: '/profile',
    headers: { cookie: mergeCookies(formCookies, `token=${renewed.value}`), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ name: 'Still Me', dob: '', _csrf: token }).toString()
  })
  assert.equal(res.statusCode, 303)
  assert.equal((await app.usersRepository.findById(user.id))?.name, 'Still Me')
})

test('ended sessions are pruned in batches; live ones stay', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const day = 24 * 3600 * 1000
  const long = new Date(Date.now() - 2 * day)
  const base = { userId: user.id, userAgent: '', ip: '' }
  const rows = [
    { ...base, id: 'expired-long-ago', expiresAt: long },
    { ...base, id: 'revoked-long-ago', expiresAt: new Date(Date.now() + day), revokedAt: long },
    { ...base, id: 'rotated-long-ago', expiresAt: new Date(Date.now() + day), rotatedAt: long },
    { ...base, id: 'expired-recently', expiresAt: new Date(Date.now() - 1000) },
    { ...base, id: 'live', expiresAt: new Date(Date.now() + day) }
  ]
  for (const data of rows) await app.prisma.session.create({ data })
  for (let i = 0; i < 1200; i++) await app.prisma.session.create({ data: { ...base, id: `bulk-${i}`, expiresAt: long } })
  assert.equal(await app.sessionsRepository.prune(), 1203)
  const left = (await app.prisma.session.findMany({ select: { id: true } })).map(s => s.id).sort()
  assert.deepEqual(left, ['expired-recently', 'live'])
})

test('the profile lists devices by opaque handles and signs one out, or every other one', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const laptop = await signIn(app, user.id)
  const phone = await signIn(app, user.id)
  const page = await app.inject({ url: '/profile', headers: { cookie } })
  const handles = [...page.body.matchAll(/action="\/profile\/sessions\/([\w-]{22})\/revoke"/g)].map(m => m[1])
  assert.equal(handles.length, 3)
  const jtis = (await app.prisma.session.findMany()).map(s => s.id)
  for (const jti of jtis) assert.ok(!page.body.includes(jti), 'no token id in the page')

  // Sign out the laptop: find its handle through the API as the laptop sees itself.
  const laptopView = (await app.inject({ url: '/api/sessions', headers: { cookie: laptop } })).json() as Array<{ id: string, current: boolean }>
  const laptopHandle = laptopView.find(s => s.current)!.id
  const one = await submitForm(app, `/profile/sessions/${laptopHandle}/revoke`, {}, { cookie })
  assert.equal(one.statusCode, 303)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: laptop } })).statusCode, 401)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: phone } })).statusCode, 200)

  const others = await submitForm(app, '/profile/sessions/others/revoke', {}, { cookie })
  assert.equal(others.statusCode, 303)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: phone } })).statusCode, 401)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 200)
  const events = await app.prisma.auditEvent.findMany({ where: { type: 'session_revoked' } })
  assert.equal(events.length, 2)

  const unknown = await submitForm(app, `/profile/sessions/${'x'.repeat(22)}/revoke`, {}, { cookie })
  assert.equal(unknown.statusCode, 303)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 200)
  const malformed = await submitForm(app, '/profile/sessions/not-a-handle/revoke', {}, { cookie })
  assert.equal(malformed.statusCode, 404)

  const self = (await app.inject({ url: '/api/sessions', headers: { cookie } })).json() as Array<{ id: string }>
  const own = await submitForm(app, `/profile/sessions/${self[0].id}/revoke`, {}, { cookie })
  assert.equal(own.headers.location, '/login?signed_out=1')
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)
})

test('a device name shows the invisible characters of its User-Agent written out, on the profile and in /api/sessions', async (t) => {
  const app = await build(t)
  const { user, password } = await createUser(app)
  const userAgent = `Evil\u202Egnp.exe\u200B ${'😀'.repeat(60)}`
  const res = await app.inject({ method: 'POST', url: '/api/authenticate', headers: { 'content-type': 'application/json', 'user-agent': userAgent }, payload: { uid: user.uid, password } })
  assert.equal(res.statusCode, 200)
  const cookie = res.cookies.map(c => `${c.name}=${c.value}`).join('; ')
  const [session] = (await app.inject({ url: '/api/sessions', headers: { cookie } })).json<Array<{ device: string, userAgent: string }>>()
  assert.equal(session.device, `Evil\\u{202E}gnp.exe\\u{200B} ${'😀'.repeat(60 - 14)}`, 'cut at 60 characters, never inside one')
  assert.ok(session.userAgent.startsWith('Evil\\u{202E}gnp.exe\\u{200B} '))
  const page = await app.inject({ url: '/profile', headers: { cookie } })
  assert.match(page.body, /Evil\\u\{202E\}gnp\.exe/)
  assert.doesNotMatch(page.body, /[\u202E\u200B]/u)
})

test('/api/sessions lists, signs out one and signs out every other session', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { user: stranger } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const other = await signIn(app, user.id)
  const strangerCookie = await signIn(app, stranger.id)
  const list = (await app.inject({ url: '/api/sessions', headers: { cookie } })).json() as Array<{ id: string, current: boolean, device: string }>
  assert.equal(list.length, 2)
  assert.equal(list.filter(s => s.current).length, 1)
  const strangers = (await app.inject({ url: '/api/sessions', headers: { cookie: strangerCookie } })).json() as Array<{ id: string }>
  // Someone else's session handle is not yours to revoke.
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/sessions/${strangers[0].id}`, headers: { cookie } })).statusCode, 404)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: strangerCookie } })).statusCode, 200)
  const target = list.find(s => !s.current)!
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/sessions/${target.id}`, headers: { cookie } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: other } })).statusCode, 401)
  const again = await signIn(app, user.id)
  const all = await app.inject({ method: 'DELETE', url: '/api/sessions', headers: { cookie } })
  assert.deepEqual(all.json(), { message: 'Signed out everywhere else', revoked: 1 })
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: again } })).statusCode, 401)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 200)
})

test('a role change or a deletion ends the affected user\'s sessions at once and is audited', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { user: second } = await createUser(app)
  const { user: admin } = await createAdmin(app)
  const adminCookie = await signIn(app, admin.id)
  const userCookie = await signIn(app, user.id)
  const secondCookie = await signIn(app, second.id)

  const page = await submitForm(app, `/users/${user.id}/role`, { role: 'Admin' }, { cookie: adminCookie, page: '/users' })
  assert.equal(page.statusCode, 303)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: userCookie } })).statusCode, 401)

  const api = await app.inject({ method: 'PUT', url: `/api/users/${second.id}`, headers: { cookie: adminCookie, 'content-type': 'application/json' }, payload: { role: 'Admin' } })
  assert.equal(api.statusCode, 200)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: secondCookie } })).statusCode, 401)

  const del = await app.inject({ method: 'DELETE', url: `/api/users/${second.id}`, headers: { cookie: adminCookie } })
  assert.equal(del.statusCode, 200)
  const types = (await app.prisma.auditEvent.findMany({ orderBy: { id: 'asc' } })).map(e => `${e.type}:${e.actorUid}:${e.targetUid}`)
  assert.deepEqual(types, [`role_changed:${admin.uid}:${user.uid}`, `role_changed:${admin.uid}:${second.uid}`, `user_deleted:${admin.uid}:${second.uid}`])
})

test('sign-out, sign-up and password changes are audited without secrets', async (t) => {
  const app = await build(t)
  const created = await submitForm(app, '/signup', { name: 'Audit Me', uid: 'audited', password: 'first-password-1' }, { page: '/signup' })
  const cookie = mergeCookies(cookiesFrom(created))
  await submitForm(app, '/profile/password', { currentPassword: 'first-password-1', newPassword: 'second-password-2' }, { cookie })
  const fresh = await signIn(app, (await app.usersRepository.findByUid('audited'))!.id)
  await submitForm(app, '/logout', {}, { cookie: fresh })
  const events = await app.prisma.auditEvent.findMany({ orderBy: { id: 'asc' } })
  assert.deepEqual(events.map(e => e.type), ['user_created', 'password_changed', 'sign_out'])
  assert.ok(events.every(e => e.targetUid === 'audited'))
  const text = JSON.stringify(events)
  assert.doesNotMatch(text, /first-password|second-password|\$argon2/)
})

test('the session cache serves repeat requests from memory, and revocation on this instance is immediate', async (t) => {
  const app = await build(t, { SESSION_CACHE_MS: '60000' })
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const other = await signIn(app, user.id)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 200)
  assert.equal(app.sessionCache.size, 1)
  // A row changed behind the app's back is not seen until the entry expires: proof the cache answers.
  const jti = claimsOf(cookie.split('=')[1]).jti
  await app.prisma.session.update({ where: { id: jti }, data: { revokedAt: new Date() } })
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 200)
  // Every revocation path of the app itself forgets the entry at once.
  await app.prisma.session.update({ where: { id: jti }, data: { revokedAt: null } })
  assert.equal((await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)

  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: other } })).statusCode, 200)
  await app.sessionsRepository.revokeAllForUser(user.id)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: other } })).statusCode, 401)
})

test('cached sessions never show stale names or roles after a change on this instance', async (t) => {
  const app = await build(t, { SESSION_CACHE_MS: '60000' })
  const { user } = await createUser(app, { name: 'Before' })
  const cookie = await signIn(app, user.id)
  assert.match((await app.inject({ url: '/', headers: { cookie } })).body, /Before/)
  const saved = await submitForm(app, '/profile', { name: 'After', dob: '' }, { cookie })
  assert.equal(saved.statusCode, 303)
  const home = await app.inject({ url: '/', headers: { cookie } })
  assert.match(home.body, /data-testid="current-user">After/)

  const { user: admin } = await createAdmin(app)
  const adminCookie = await signIn(app, admin.id)
  assert.equal((await app.inject({ url: '/audit', headers: { cookie: adminCookie } })).statusCode, 200)
  await app.usersRepository.update(admin.id, { role: 'User' })
  assert.equal((await app.inject({ url: '/audit', headers: { cookie: adminCookie } })).statusCode, 403)
  await app.usersRepository.delete(user.id)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)
})

test('another instance sees a revocation within the cache time', async (t) => {
  const first = await build(t, { SESSION_CACHE_MS: '300' })
  const { user } = await createUser(first)
  const cookie = await signIn(first, user.id)
  // A second app on the same database file, as a second process would be.
  const second = Fastify({ ...serverOptions(first.config), logger: false })
  await second.register(fp(appPlugin), { config: first.config })
  t.after(() => second.close())
  assert.equal((await second.inject({ url: '/api/id', headers: { cookie } })).statusCode, 200)
  assert.equal((await first.inject({ method: 'POST', url: '/api/logout', headers: { cookie } })).statusCode, 200)
  assert.equal((await first.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401, 'this instance: at once')
  await new Promise(resolve => setTimeout(resolve, 350))
  assert.equal((await second.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401, 'the other: within the cache time')
})
