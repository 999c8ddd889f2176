import assert from 'node:assert/strict'
import { test } from 'node:test'
import { build, cookiesFrom, csrfFor, mergeCookies, signIn } from '../helper.ts'
import { createUser } from '../factories.ts'

test('the sign-in form has labelled fields, a CSRF token and keeps a safe next', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/login?next=%2Fusers' })
  assert.equal(res.statusCode, 200)
  assert.match(res.headers['content-type'] as string, /text\/html; charset=utf-8/)
  assert.match(res.body, /<label for="field-uid">User id<\/label>/)
  assert.match(res.body, /<label for="field-password">Password<\/label>/)
  assert.match(res.body, /name="_csrf" value="[^"]+"/)
  assert.match(res.body, /name="next" value="\/users"/)
})

test('signing in through the form sets an HttpOnly cookie and redirects (303) to next', async (t) => {
  const app = await build(t)
  const { user, password } = await createUser(app, { uid: 'grace' })
  const { token, cookie } = await csrfFor(app)
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ uid: ' Grace ', password, next: '/users', _csrf: token }).toString()
  })
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/users')
  const session = res.cookies.find(c => c.name === 'token')
  assert.ok(session, 'token cookie set')
  assert.equal(session.httpOnly, true)
  assert.equal(session.sameSite, 'Lax')
  assert.equal(session.path, '/')
  assert.equal(session.maxAge, app.config.jwt.ttlSeconds)
  assert.equal(session.domain, undefined)
  // The token's lifetime matches the cookie's and names a stored session.
  const payload = app.jwt.decode<{ sub: string, jti: string, iat: number, exp: number }>(session.value)!
  assert.equal(payload.exp - payload.iat, app.config.jwt.ttlSeconds)
  assert.equal(payload.sub, String(user.id))
  const row = await app.prisma.session.findUnique({ where: { id: payload.jti } })
  assert.equal(row?.userId, user.id)

  const page = await app.inject({ url: '/users', headers: { cookie: mergeCookies(cookie, cookiesFrom(res)) } })
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /Welcome back, Test User/)
})

test('a wrong password re-renders the form with one generic message, the typed user id and no password', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { token, cookie } = await csrfFor(app)
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ uid: user.uid, password: 'not-the-password', _csrf: token }).toString()
  })
  assert.equal(res.statusCode, 401)
  assert.match(res.body, /Incorrect user id or password\./)
  assert.match(res.body, new RegExp(`name="uid" type="text" value="${user.uid}"`))
  assert.doesNotMatch(res.body, /not-the-password/)
  assert.equal(res.cookies.find(c => c.name === 'token'), undefined)
})

test('an unknown user gets exactly the same answer as a wrong password', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const attempt = async (uid: string) => {
    const { token, cookie } = await csrfFor(app)
    return app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ uid, password: 'wrong-password', _csrf: token }).toString()
    })
  }
  const known = await attempt(user.uid)
  const unknown = await attempt('nobody-here')
  assert.equal(known.statusCode, unknown.statusCode)
  assert.equal(known.body.replace(user.uid, 'X').replace(/name="_csrf" value="[^"]+"/, ''),
    unknown.body.replace('nobody-here', 'X').replace(/name="_csrf" value="[^"]+"/, ''))
})

test('an unsafe next falls back to /', async (t) => {
  const app = await build(t)
  const { password, user } = await createUser(app)
  for (const next of ['https://evil.example', '//evil.example', '/\\evil.example', 'javascript:alert(1)']) {
    const { token, cookie } = await csrfFor(app)
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ uid: user.uid, password, next, _csrf: token }).toString()
    })
    assert.equal(res.statusCode, 303, next)
    assert.equal(res.headers.location, '/', next)
  }
})

test('a signed-in visitor opening /login goes straight to next', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const res = await app.inject({ url: '/login?next=%2Fprofile', headers: { cookie } })
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/profile')
})

test('a sign-in form post without a CSRF token is refused and signs nobody in', async (t) => {
  const app = await build(t)
  const { user, password } = await createUser(app)
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ uid: user.uid, password, _csrf: 'forged' }).toString()
  })
  assert.equal(res.statusCode, 403)
  assert.equal(res.cookies.find(c => c.name === 'token'), undefined)
  assert.equal(await app.prisma.session.count(), 0)
})

test('sign-in is throttled per client after the configured number of attempts', async (t) => {
  const app = await build(t, { LOGIN_RATE_LIMIT: '3' })
  const { token, cookie } = await csrfFor(app)
  const post = () => app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ uid: 'someone', password: 'wrong-password', _csrf: token }).toString()
  })
  for (let i = 0; i < 3; i++) assert.equal((await post()).statusCode, 401)
  const limited = await post()
  assert.equal(limited.statusCode, 429)
  assert.ok(Number(limited.headers['retry-after']) > 0)
  assert.match(limited.body, /Too many requests/)
})

test('an empty field re-renders the form (422) with the typed user id and no hashing', async (t) => {
  const app = await build(t)
  const hash = t.mock.method(app.passwordHasher, 'verify')
  const dummy = t.mock.method(app.passwordHasher, 'verifyDummy')
  const { token, cookie } = await csrfFor(app)
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ uid: 'toby', password: '', _csrf: token }).toString()
  })
  assert.equal(res.statusCode, 422)
  assert.match(res.body, /Enter your user id and password\./)
  assert.match(res.body, /name="uid" type="text" value="toby"/)
  assert.equal(hash.mock.callCount() + dummy.mock.callCount(), 0)
})
