/**
 * SECURITY.md section B: cookie attributes and session lifetime (S14–S16).
 *
 * "Production-like" apps are built with COOKIE_SECURE=true (what an HTTPS deployment gets by
 * default in production): the cookie is then `__Host-token`. Local HTTP development uses a
 * plain `token` cookie without `Secure`.
 * The browser halves of S14/S15 (Playwright: localStorage, context.cookies(), the Back button)
 * are not covered here; their server-side preconditions are.
 *
 * SECURITY.md section C: request forgery and cross-origin (S17–S20).
 *
 * A cross-site form is simulated with inject: the victim's cookies are always sent, as if
 * SameSite were off, so these tests hold without the SameSite defence (defence in depth).
 * The Playwright half (a real second origin, iframes) is not covered here.
 *
 * The app's answers: a forged token or a cross-site Origin / Sec-Fetch-Site is 403. A form
 * without a single string `_csrf` field (missing, repeated, only in the query) is refused
 * either by the body schema (400, on routes whose schema requires `_csrf`: Fastify validates
 * before the CSRF preHandler runs) or by the CSRF check (403). Either way nothing is stored.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, csrfFor, mergeCookies, signIn, submitForm } from '../helper.ts'
import { createAdmin, createUser } from '../factories.ts'
import { nowSeconds } from './forge.ts'
import { assertAuthFailApi, assertAuthFailPage, assertNever, assertTokenRefused, authCookie, createSession, fullSnapshot, isExpiring, payloadOf, setCookieLines, setCookieLinesFor, setup, signAsApp, tokenOf, validClaims, whoIs } from './support.ts'

/** The attributes of a `Set-Cookie` line, lower-cased names (`{ httponly: '', path: '/' … }`). */
function attributesOf (line: string): Map<string, string> {
  const [, ...parts] = line.split(';')
  return new Map(parts.map(p => {
    const [k, ...v] = p.trim().split('=')
    return [k.toLowerCase(), v.join('=')]
  }))
}

/** The one auth cookie a response sets, checked against the S14 baseline; returns its value. */
function assertHardenedAuthCookie (app: FastifyInstance, res: LightMyRequestResponse, options: { secure: boolean }): string {
  const name = app.config.cookie.name
  const lines = setCookieLinesFor(res, name)
  assert.equal(lines.length, 1, `exactly one ${name} cookie, got ${JSON.stringify(setCookieLines(res))}`)
  const line = lines[0]
  const value = line.slice(name.length + 1).split(';')[0]
  const attrs = attributesOf(line)
  assert.ok(attrs.has('httponly'), 'HttpOnly')
  assert.match(attrs.get('samesite') ?? '', /^(Lax|Strict)$/i, 'SameSite=Lax or Strict, explicit')
  assert.equal(attrs.get('path'), '/', 'Path=/')
  assert.ok(!attrs.has('domain'), 'no Domain')
  if (options.secure) {
    assert.ok(attrs.has('secure'), 'Secure')
    assert.ok(name.startsWith('__Host-'), `__Host- prefix behind HTTPS, got ${name}`)
  }
  // Max-Age is in seconds (fastify-cookie #219/#279) and equals the token's own lifetime.
  const maxAge = Number(attrs.get('max-age'))
  const { iat, exp } = payloadOf(value)
  assert.ok(Number.isInteger(maxAge) && maxAge > 0, `Max-Age in seconds: ${attrs.get('max-age')}`)
  assert.equal(maxAge, Number(exp) - Number(iat), 'Max-Age equals the JWT lifetime')
  assert.equal(maxAge, app.config.jwt.ttlSeconds)
  assert.ok(Buffer.byteLength(`${name}=${value}`) <= 4096, 'name and value fit in 4096 bytes')
  return value
}

test('S14 a successful sign-in sets exactly one hardened auth cookie', async (t) => {
  const app = await build(t, { COOKIE_SECURE: 'true' })
  // Fields at their maximum length: the token must still fit a cookie.
  const { user, password } = await createUser(app, { uid: `u${'x'.repeat(39)}`, name: 'N'.repeat(100) })
  assert.equal(app.config.cookie.name, '__Host-token')

  await t.test('the sign-in form sets one HttpOnly, Secure, SameSite, Path=/, __Host- cookie lasting the token lifetime', async () => {
    const res = await submitForm(app, '/login', { uid: user.uid, password })
    assert.equal(res.statusCode, 303)
    const token = assertHardenedAuthCookie(app, res, { secure: true })
    assert.equal(await whoIs(app, authCookie(app, token)), user.id)
  })

  await t.test('the sign-in form response is marked Cache-Control: no-store', async () => {
    const res = await submitForm(app, '/login', { uid: user.uid, password })
    assert.equal(res.statusCode, 303)
    assert.match(String(res.headers['cache-control'] ?? ''), /no-store/)
  })

  await t.test('POST /api/authenticate sets the same cookie, is not cacheable and does not return the token', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: user.uid, password } })
    assert.equal(res.statusCode, 200)
    const token = assertHardenedAuthCookie(app, res, { secure: true })
    assert.match(String(res.headers['cache-control'] ?? ''), /no-store/)
    assert.ok(!res.body.includes(token), 'the token is not in the JSON body')
  })

  await t.test('the token appears in no page, and no script reads cookies or web storage', async () => {
    const res = await submitForm(app, '/login', { uid: user.uid, password, next: '/profile' })
    const token = assertHardenedAuthCookie(app, res, { secure: true })
    for (const url of ['/', '/profile', '/users']) {
      const page = await app.inject({ method: 'GET', url, headers: { cookie: authCookie(app, token) } })
      assert.equal(page.statusCode, 200)
      assert.ok(!page.body.includes(token), `${url} does not contain the token`)
      assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, `${url} has no inline script`)
    }
    const script = readFileSync(new URL('../../public/js/app.js', import.meta.url), 'utf8')
    assert.doesNotMatch(script, /localStorage|sessionStorage|document\.cookie/)
  })

  await t.test('a failed sign-in sets no auth cookie and starts no session (form and API)', async () => {
    const sessions = await app.prisma.session.count()
    const form = await submitForm(app, '/login', { uid: user.uid, password: 'wrong-password' })
    assert.equal(form.statusCode, 401)
    assert.deepEqual(setCookieLinesFor(form, app.config.cookie.name), [])
    const api = await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: user.uid, password: 'wrong-password' } })
    assert.equal(api.statusCode, 401)
    assert.deepEqual(setCookieLinesFor(api, app.config.cookie.name), [])
    assert.equal(await app.prisma.session.count(), sessions)
  })

  await t.test('in local HTTP development the cookie is a plain `token`, still HttpOnly, SameSite and Path=/', async (t) => {
    const dev = await build(t)
    const { user, password } = await createUser(dev)
    assert.equal(dev.config.cookie.name, 'token')
    const res = await submitForm(dev, '/login', { uid: user.uid, password })
    assertHardenedAuthCookie(dev, res, { secure: false })
  })
})

test('a page with a form token is no-store even when it sets no cookie (a returning visitor\'s sign-in and sign-up pages)', async (t) => {
  const app = await build(t, { COOKIE_SECURE: 'true' })
  const first = await app.inject({ url: '/login' })
  const csrfCookie = setCookieLines(first).map(line => line.split(';')[0]).find(pair => pair.startsWith('__Host-csrf='))
  assert.ok(csrfCookie !== undefined)
  for (const url of ['/login', '/signup', '/login?next=%2Fprofile']) {
    const res: LightMyRequestResponse = await app.inject({ url, headers: { cookie: csrfCookie } })
    assert.equal(res.statusCode, 200, url)
    assert.match(res.body, /name="_csrf" value="[^"]+"/, url)
    assert.deepEqual(setCookieLines(res), [], `${url} sets no cookie`)
    assert.equal(res.headers['cache-control'], 'no-store', url)
  }
  // A page without a form keeps its own caching (the signed-out home page sets none).
  assert.equal((await app.inject({ url: '/', headers: { cookie: csrfCookie } })).headers['cache-control'], undefined)
})

test('S14 over HTTPS every cookie the app sets has the __Host- prefix: session, CSRF secret and flash message', async (t) => {
  const app = await build(t, { COOKIE_SECURE: 'true' })
  const { user, password } = await createUser(app)
  const names = new Set<string>()
  const collect = (res: LightMyRequestResponse): LightMyRequestResponse => {
    for (const line of setCookieLines(res)) names.add(line.slice(0, line.indexOf('=')))
    return res
  }
  const signedIn = collect(await submitForm(app, '/login', { uid: user.uid, password }))
  assert.equal(signedIn.statusCode, 303)
  const cookie = mergeCookies(...setCookieLines(signedIn).map(line => line.split(';')[0]))
  // Saving the profile sets a flash message for the page after the redirect.
  const { token, cookie: withCsrf } = await csrfFor(app, cookie, '/profile')
  // The cookies the profile page set (the CSRF secret), as the helper merged them.
  for (const part of withCsrf.split('; ')) names.add(part.slice(0, part.indexOf('=')))
  const saved = collect(await app.inject({
    method: 'POST',
    url: '/profile',
    headers: { cookie: withCsrf, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ name: 'Saved Name', dob: '', _csrf: token }).toString()
  }))
  assert.equal(saved.statusCode, 303)
  const next = collect(await app.inject({ url: '/profile', headers: { cookie: mergeCookies(withCsrf, ...setCookieLines(saved).map(line => line.split(';')[0])) } }))
  assert.match(next.body, /Your details were saved/, 'the flash message is read back under its __Host- name')
  assert.ok(names.has('__Host-flash') && names.has('__Host-token') && names.has('__Host-csrf'), JSON.stringify([...names]))
  for (const name of names) assert.ok(name.startsWith('__Host-'), `${name} has no __Host- prefix`)
})

test('S15 signing out expires the cookie and ends the session', async (t) => {
  const app = await build(t, { COOKIE_SECURE: 'true' })
  const { user } = await createUser(app)
  const { user: admin } = await createAdmin(app)
  const name = app.config.cookie.name

  async function logout (cookie: string) {
    const form = await csrfFor(app, cookie, '/profile')
    return app.inject({
      method: 'POST',
      url: '/logout',
      headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${encodeURIComponent(form.token)}`
    })
  }

  await t.test('POST /logout redirects (303) to /login and expires the same cookie: same name, Path=/, no Domain, Secure', async () => {
    const cookie = await signIn(app, user.id)
    const res = await logout(cookie)
    assert.equal(res.statusCode, 303)
    assert.match(String(res.headers.location), /^\/login(\?|$)/, `Location: ${String(res.headers.location)}`)
    const lines = setCookieLinesFor(res, name)
    assert.equal(lines.length, 1)
    assert.ok(isExpiring(lines[0]), `expired: ${lines[0]}`)
    const attrs = attributesOf(lines[0])
    assert.equal(attrs.get('path'), '/')
    assert.ok(!attrs.has('domain'))
    // A __Host- cookie is only replaced by a Set-Cookie that is itself Secure.
    assert.ok(attrs.has('secure'))
  })

  await t.test('POST /logout sends Clear-Site-Data: "cookies"', async () => {
    const res = await logout(await signIn(app, user.id))
    assert.equal(res.statusCode, 303)
    assert.match(String(res.headers['clear-site-data'] ?? ''), /"cookies"/)
  })

  await t.test('after signing out, the old cookie opens no authenticated page', async () => {
    const cookie = await signIn(app, user.id)
    assert.equal((await logout(cookie)).statusCode, 303)
    assertAuthFailPage(app, await app.inject({ method: 'GET', url: '/profile', headers: { cookie } }), { token: tokenOf(cookie) })
    assertAuthFailApi(app, await app.inject({ method: 'GET', url: '/api/id', headers: { cookie } }), { token: tokenOf(cookie) })
  })

  await t.test('POST /api/logout also expires the cookie and revokes the session', async () => {
    const cookie = await signIn(app, user.id)
    const res = await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie } })
    assert.equal(res.statusCode, 200)
    const lines = setCookieLinesFor(res, name)
    assert.equal(lines.length, 1)
    assert.ok(isExpiring(lines[0]))
    assert.ok(attributesOf(lines[0]).has('secure'))
    await assertTokenRefused(app, tokenOf(cookie), admin.id)
  })

  await t.test('authenticated pages are sent with Cache-Control: no-store (Back shows nothing cached)', async () => {
    const userCookie = await signIn(app, user.id)
    const adminCookie = await signIn(app, admin.id)
    const pages: Array<[string, string]> = [['/', userCookie], ['/profile', userCookie], ['/users', userCookie], [`/users/${user.id}/delete`, adminCookie], ['/api/id', userCookie]]
    for (const [url, cookie] of pages) {
      const res = await app.inject({ method: 'GET', url, headers: { cookie } })
      assert.equal(res.statusCode, 200, url)
      assert.match(String(res.headers['cache-control'] ?? ''), /no-store/, `${url} is no-store`)
    }
  })

  await t.test('every authenticated page shows a sign-out form carrying a CSRF token', async () => {
    const userCookie = await signIn(app, user.id)
    const adminCookie = await signIn(app, admin.id)
    const pages: Array<[string, string]> = [['/', userCookie], ['/profile', userCookie], ['/users', userCookie], ['/table', userCookie], [`/users/${user.id}/delete`, adminCookie]]
    for (const [url, cookie] of pages) {
      const res = await app.inject({ method: 'GET', url, headers: { cookie } })
      assert.equal(res.statusCode, 200, url)
      assert.match(res.body, /<form method="post" action="\/logout"[^>]*>\s*<input type="hidden" name="_csrf" value="[^"]+">/, `${url} has a sign-out form`)
    }
  })
})

test('S16 sessions end at their absolute lifetime and are never silently extended', async (t) => {
  const { app, user, admin } = await setup(t)
  const ttl = app.config.jwt.ttlSeconds

  /** A token and Session row issued `secondsAgo` seconds ago, with the normal lifetime. */
  async function issuedAgo (secondsAgo: number): Promise<string> {
    const iat = nowSeconds() - secondsAgo
    const jti = await createSession(app, user.id, { createdAt: new Date(iat * 1000) })
    return signAsApp(app, { sub: String(user.id), jti, iss: app.config.jwt.issuer, aud: app.config.jwt.audience, iat, exp: iat + ttl })
  }

  // Two seconds rather than one: JWT dates have whole-second resolution, so a one-second margin
  // could straddle a second boundary and make the test flaky.
  await t.test('a token two seconds before the end of its lifetime still works', async () => {
    const token = await issuedAgo(ttl - 2)
    assert.equal(await whoIs(app, authCookie(app, token)), user.id)
    const page = await app.inject({ method: 'GET', url: '/profile', headers: { cookie: authCookie(app, token) } })
    assert.equal(page.statusCode, 200)
  })

  await t.test('a token one second past its lifetime is refused', async () => {
    await assertTokenRefused(app, await issuedAgo(ttl + 1), admin.id)
  })

  await t.test('a token whose exp was stretched past maxAge from its iat is refused (absolute limit)', async () => {
    const iat = nowSeconds() - ttl - 1
    const claims = { ...await validClaims(app, user.id), iat, exp: nowSeconds() + 3600 }
    await assertTokenRefused(app, signAsApp(app, claims), admin.id)
  })

  await t.test('a session past its server-side expiry is refused even with an unexpired token', async () => {
    const claims = await validClaims(app, user.id)
    await app.prisma.session.update({ where: { id: String(claims.jti) }, data: { expiresAt: new Date(Date.now() - 1000) } })
    await assertTokenRefused(app, signAsApp(app, claims), admin.id)
  })

  await t.test('activity neither renews the token nor extends the session (no sliding renewal)', async () => {
    const cookie = await signIn(app, user.id)
    const jti = String(payloadOf(tokenOf(cookie)).jti)
    // Make the next request refresh lastSeenAt (it does so at most once a minute).
    await app.prisma.session.update({ where: { id: jti }, data: { lastSeenAt: new Date(Date.now() - 3600_000) } })
    const before = await app.prisma.session.findUniqueOrThrow({ where: { id: jti } })
    for (const url of ['/profile', '/api/id', '/users']) {
      const res = await app.inject({ method: 'GET', url, headers: { cookie } })
      assert.equal(res.statusCode, 200)
      assert.deepEqual(setCookieLinesFor(res, app.config.cookie.name), [], `${url} issues no new token`)
    }
    const after = await app.prisma.session.findUniqueOrThrow({ where: { id: jti } })
    assert.ok(after.lastSeenAt > before.lastSeenAt, 'activity is recorded')
    assert.equal(after.expiresAt.getTime(), before.expiresAt.getTime(), 'the absolute expiry does not move')
  })
})

const EVIL = 'https://evil.example'
const FORM = 'application/x-www-form-urlencoded'

interface Forgery {
  name: string
  /** Cookie header the victim's browser sends. */
  cookie?: string
  headers?: Record<string, string>
  body: Array<[string, string]>
  query?: string
  /** Acceptable refusals. */
  expect: number[]
}

/**
 * The forgeries of S17 against one form endpoint. `victimCookie` is the victim's auth cookie
 * (undefined for a signed-out victim); `attackerToken` a CSRF token the attacker got from
 * their own session.
 */
async function forgeries (app: FastifyInstance, fields: Record<string, string>, victimCookie: string | undefined, attackerToken: string): Promise<Forgery[]> {
  // What the victim's browser holds after visiting the site: its auth cookie and CSRF secret cookie.
  const victim = await csrfFor(app, victimCookie, victimCookie === undefined ? '/login' : '/profile')
  const entries = Object.entries(fields)
  const valid: Array<[string, string]> = [...entries, ['_csrf', victim.token]]
  return [
    { name: 'no _csrf field', cookie: victim.cookie, body: entries, expect: [400, 403] },
    { name: "the attacker's own _csrf token", cookie: victim.cookie, body: [...entries, ['_csrf', attackerToken]], expect: [403] },
    { name: 'two _csrf values (valid and junk)', cookie: victim.cookie, body: [...entries, ['_csrf', victim.token], ['_csrf', 'junk']], expect: [400, 403] },
    { name: 'the token only in the query string', cookie: victim.cookie, body: entries, query: `_csrf=${encodeURIComponent(victim.token)}`, expect: [400, 403] },
    { name: "the attacker's token in an X-CSRF-Token header", cookie: victim.cookie, headers: { 'x-csrf-token': attackerToken }, body: entries, expect: [400, 403] },
    { name: 'no CSRF secret cookie (the victim never loaded a form) and the attacker token', cookie: victimCookie, body: [...entries, ['_csrf', attackerToken]], expect: [403] },
    { name: 'Origin: null and an otherwise valid token', cookie: victim.cookie, headers: { origin: 'null' }, body: valid, expect: [403] },
    { name: `Origin: ${EVIL} and an otherwise valid token`, cookie: victim.cookie, headers: { origin: EVIL }, body: valid, expect: [403] },
    { name: 'Sec-Fetch-Site: cross-site and an otherwise valid token', cookie: victim.cookie, headers: { 'sec-fetch-site': 'cross-site' }, body: valid, expect: [403] },
    { name: 'Sec-Fetch-Site: same-site (a sibling subdomain) and an otherwise valid token', cookie: victim.cookie, headers: { 'sec-fetch-site': 'same-site' }, body: valid, expect: [403] }
  ]
}

async function send (app: FastifyInstance, url: string, forgery: Forgery) {
  const headers: Record<string, string> = { 'content-type': FORM, ...forgery.headers }
  if (forgery.cookie !== undefined) headers.cookie = forgery.cookie
  return app.inject({
    method: 'POST',
    url: forgery.query === undefined ? url : `${url}?${forgery.query}`,
    headers,
    payload: new URLSearchParams(forgery.body).toString()
  })
}

/** Each forgery is refused and changes nothing; then the genuine form succeeds (control). */
async function assertFormProtected (app: FastifyInstance, url: string, fields: Record<string, string>, victimCookie: string | undefined, attackerToken: string) {
  for (const forgery of await forgeries(app, fields, victimCookie, attackerToken)) {
    const before = await fullSnapshot(app)
    const res = await send(app, url, forgery)
    assert.ok(forgery.expect.includes(res.statusCode), `${forgery.name}: expected ${forgery.expect.join(' or ')}, got ${res.statusCode}`)
    assertNever(app, res)
    assert.deepEqual(setCookieLinesFor(res, app.config.cookie.name), [], `${forgery.name}: no auth cookie is set`)
    assert.equal(await fullSnapshot(app), before, `${forgery.name}: nothing stored`)
  }
  const genuine = await csrfFor(app, victimCookie, victimCookie === undefined ? '/login' : '/profile')
  const before = await fullSnapshot(app)
  const res = await send(app, url, { name: 'control', cookie: genuine.cookie, body: [...Object.entries(fields), ['_csrf', genuine.token]], expect: [303] })
  assert.equal(res.statusCode, 303, `the genuine form succeeds (control): ${res.statusCode} ${res.body.slice(0, 200)}`)
  assert.notEqual(await fullSnapshot(app), before, 'the genuine form changes data (control)')
}

test('S17 state-changing forms refuse cross-site and token-less submissions', async (t) => {
  const app = await build(t)
  const { user: attacker } = await createUser(app)
  const attackerToken = (await csrfFor(app, await signIn(app, attacker.id), '/profile')).token
  const anonymousAttackerToken = (await csrfFor(app, undefined, '/login')).token

  await t.test('a forged profile edit (POST /profile) is refused and stores nothing', async () => {
    const { user } = await createUser(app)
    await assertFormProtected(app, '/profile', { name: 'Pwned', dob: '' }, await signIn(app, user.id), attackerToken)
  })

  await t.test('a forged password change (POST /profile/password) is refused and stores nothing', async () => {
    const { user, password } = await createUser(app)
    await assertFormProtected(app, '/profile/password', { currentPassword: password, newPassword: 'attacker-chosen-pw' }, await signIn(app, user.id), attackerToken)
  })

  await t.test('a forged role change by an Admin victim (POST /users/:id/role) is refused and stores nothing', async () => {
    const { user: admin } = await createAdmin(app)
    const { user: target } = await createUser(app)
    await assertFormProtected(app, `/users/${target.id}/role`, { role: 'Admin' }, await signIn(app, admin.id), attackerToken)
  })

  await t.test('a forged user deletion by an Admin victim (POST /users/:id/delete) is refused and stores nothing', async () => {
    const { user: admin } = await createAdmin(app)
    const { user: target } = await createUser(app)
    await assertFormProtected(app, `/users/${target.id}/delete`, {}, await signIn(app, admin.id), attackerToken)
  })

  await t.test('a forged sign-up (POST /signup) is refused and stores nothing', async () => {
    await assertFormProtected(app, '/signup', { name: 'Planted', uid: 'planted-account', password: 'planted-password' }, undefined, anonymousAttackerToken)
  })

  await t.test('a forged sign-out (POST /logout) is refused and ends no session', async () => {
    const { user } = await createUser(app)
    await assertFormProtected(app, '/logout', {}, await signIn(app, user.id), attackerToken)
  })

  await t.test('state-changing API calls from another site are refused and store nothing', async () => {
    const { user } = await createUser(app)
    const { user: admin } = await createAdmin(app)
    const cookie = await signIn(app, user.id)
    const adminCookie = await signIn(app, admin.id)
    const json = { 'content-type': 'application/json' }
    const attempts = [
      { method: 'PUT' as const, url: `/api/users/${user.id}`, headers: { ...json, cookie, origin: EVIL }, payload: '{"name":"Pwned"}', expect: 403 },
      { method: 'PUT' as const, url: `/api/users/${user.id}`, headers: { ...json, cookie, 'sec-fetch-site': 'cross-site' }, payload: '{"name":"Pwned"}', expect: 403 },
      { method: 'PUT' as const, url: '/api/users', headers: { ...json, cookie, origin: 'null' }, payload: '{"name":"Pwned"}', expect: 403 },
      { method: 'DELETE' as const, url: `/api/users/${user.id}`, headers: { cookie: adminCookie, 'sec-fetch-site': 'cross-site' }, payload: undefined, expect: 403 },
      { method: 'POST' as const, url: '/api/logout', headers: { cookie, origin: EVIL }, payload: undefined, expect: 403 },
      // What a cross-site <form> or a no-preflight fetch can send: not JSON, so 415.
      { method: 'PUT' as const, url: `/api/users/${user.id}`, headers: { cookie, 'content-type': 'text/plain' }, payload: '{"name":"Pwned"}', expect: 415 },
      { method: 'PUT' as const, url: `/api/users/${user.id}`, headers: { cookie, 'content-type': FORM }, payload: 'name=Pwned', expect: 415 },
      { method: 'POST' as const, url: '/api/users', headers: { 'content-type': 'text/plain' }, payload: '{"uid":"planted2","name":"P","password":"planted-password"}', expect: 415 }
    ]
    for (const { expect, ...request } of attempts) {
      const before = await fullSnapshot(app)
      const res = await app.inject(request)
      assert.equal(res.statusCode, expect, `${request.method} ${request.url} ${JSON.stringify(request.headers)}: ${res.body}`)
      assertNever(app, res)
      assert.equal(await fullSnapshot(app), before)
    }
    assert.equal(await whoIs(app, cookie), user.id, 'the victim is still signed in')
  })
})

test('S18 a cross-site sign-in with the attacker credentials is refused (login CSRF)', async (t) => {
  const { app, user: attacker, password } = await setup(t)
  const attackerPage = await csrfFor(app, undefined, '/login')
  const fields: Array<[string, string]> = [['uid', attacker.uid], ['password', password]]

  async function attempt (cookie: string | undefined, body: Array<[string, string]>, headers: Record<string, string> = {}) {
    const sessions = await app.prisma.session.count()
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': FORM, ...(cookie === undefined ? {} : { cookie }), ...headers },
      payload: new URLSearchParams(body).toString()
    })
    assertNever(app, res)
    assert.deepEqual(setCookieLinesFor(res, app.config.cookie.name), [], 'no auth cookie')
    assert.equal(await app.prisma.session.count(), sessions, 'no session started')
    if (cookie !== undefined) assert.equal(await whoIs(app, mergeCookies(cookie)), null, 'the victim is not signed in as the attacker')
    return res
  }

  await t.test("the attacker's token against the victim's own CSRF cookie is refused (403)", async () => {
    const victim = await csrfFor(app, undefined, '/login')
    assert.equal((await attempt(victim.cookie, [...fields, ['_csrf', attackerPage.token]])).statusCode, 403)
  })
  await t.test('a victim without any CSRF cookie is refused (403)', async () => {
    assert.equal((await attempt(undefined, [...fields, ['_csrf', attackerPage.token]])).statusCode, 403)
  })
  await t.test('a form without _csrf is refused (400 from the body schema)', async () => {
    const victim = await csrfFor(app, undefined, '/login')
    assert.equal((await attempt(victim.cookie, fields)).statusCode, 400)
  })
  for (const [name, headers] of [
    [`Origin: ${EVIL}`, { origin: EVIL }],
    ['Origin: null', { origin: 'null' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }]
  ] as const) {
    await t.test(`${name} is refused (403) even with a valid token and cookie`, async () => {
      const res = await attempt(attackerPage.cookie, [...fields, ['_csrf', attackerPage.token]], headers)
      assert.equal(res.statusCode, 403)
    })
  }
  await t.test('a cross-site JSON sign-in (POST /api/authenticate) is refused', async () => {
    for (const headers of [{ 'content-type': 'application/json', origin: EVIL }, { 'content-type': 'text/plain' }]) {
      const sessions = await app.prisma.session.count()
      const res = await app.inject({ method: 'POST', url: '/api/authenticate', headers, payload: JSON.stringify({ uid: attacker.uid, password }) })
      assert.ok([403, 415].includes(res.statusCode), `${JSON.stringify(headers)}: ${res.statusCode}`)
      assert.deepEqual(setCookieLinesFor(res, app.config.cookie.name), [])
      assert.equal(await app.prisma.session.count(), sessions)
    }
  })
  await t.test('the same sign-in from the site itself works (control)', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': FORM, cookie: attackerPage.cookie, host: 'localhost', origin: 'http://localhost', 'sec-fetch-site': 'same-origin' },
      payload: new URLSearchParams([...fields, ['_csrf', attackerPage.token]]).toString()
    })
    assert.equal(res.statusCode, 303)
    assert.equal(setCookieLinesFor(res, app.config.cookie.name).length, 1)
  })
})

test('S19 the API grants no cross-origin access with credentials', async (t) => {
  for (const [label, env] of [['with CORS off (default)', {}], ['with CORS_ORIGINS naming a trusted front end', { CORS_ORIGINS: 'https://app.example' }]] as const) {
    await t.test(`no Origin is granted access ${label}`, async (t) => {
      const { app, admin } = await setup(t, env)
      const cookie = await signIn(app, admin.id)
      for (const origin of [EVIL, 'null']) {
        const preflight = await app.inject({
          method: 'OPTIONS',
          url: '/api/users',
          headers: { origin, cookie, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' }
        })
        const reads = await Promise.all(['/api/users', '/api/id', `/api/users/${admin.id}`].map(url =>
          app.inject({ method: 'GET', url, headers: { origin, cookie } })))
        for (const res of [preflight, ...reads]) {
          const acao = res.headers['access-control-allow-origin']
          assert.equal(acao, undefined, `Origin ${origin} is not granted: ${String(acao)}`)
          assert.notEqual(res.headers['access-control-allow-credentials'], 'true')
          assert.equal(res.headers['access-control-allow-methods'], undefined, 'no preflight grant')
          assertNever(app, res)
        }
        assert.ok(preflight.statusCode >= 400, `the preflight is not granted (${preflight.statusCode})`)
      }
    })
  }
})

test('S20 no page can be framed by another site', async (t) => {
  const { app, user, admin } = await setup(t)
  const userCookie = await signIn(app, user.id)
  const adminCookie = await signIn(app, admin.id)
  const pages: Array<[string, string, string | undefined, number]> = [
    ['the sign-in page', '/login', undefined, 200],
    ['an authenticated page (/profile)', '/profile', userCookie, 200],
    ['an Admin-only page (/users/:id/delete)', `/users/${user.id}/delete`, adminCookie, 200],
    ['a 403 page', `/users/${user.id}/delete`, userCookie, 403],
    ['a 404 page', '/no-such-page', undefined, 404],
    ['an API response', '/api/id', userCookie, 200]
  ]
  for (const [name, url, cookie, status] of pages) {
    await t.test(`${name} forbids framing (CSP frame-ancestors 'none', X-Frame-Options DENY)`, async () => {
      const res = await app.inject({ method: 'GET', url, headers: cookie === undefined ? {} : { cookie } })
      assert.equal(res.statusCode, status)
      const csp = String(res.headers['content-security-policy'] ?? '')
      const directives = new Map(csp.split(';').map(d => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(' ')]))
      assert.equal(directives.get('frame-ancestors'), "'none'", `CSP: ${csp}`)
      assert.equal(res.headers['x-frame-options'], 'DENY')
    })
  }
})
