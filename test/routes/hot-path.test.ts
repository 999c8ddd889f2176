import assert from 'node:assert/strict'
import { test } from 'node:test'
import { build, cookiesFrom, csrfFor, mergeCookies, signIn, submitForm } from '../helper.ts'
import { createAdmin, createUser } from '../factories.ts'
import type { FastifyReply } from 'fastify'
import { PageCsrfToken } from '../../src/plugins/app/csrf.ts'

// The cheap hot path (docs/decisions/0018-hot-path.md): /profile shows the user row that came
// with the (cached) session instead of reading it again, the signed-out home page is rendered
// once, and CSRF tokens are made only for pages with forms. Each test proves that a change on
// this instance is seen by the very next request, with the session cache on (the default).

const isSignInRedirect = (res: { statusCode: number, headers: Record<string, unknown> }) =>
  res.statusCode === 303 && String(res.headers.location).startsWith('/login')

test('the profile shows a name change made on this instance at the next request, though the session is cached', async (t) => {
  const app = await build(t)
  assert.ok(app.config.session.cacheMs > 0, 'the session cache is on')
  const { user } = await createUser(app, { name: 'Old Name' })
  const cookie = await signIn(app, user.id)
  assert.match((await app.inject({ url: '/profile', headers: { cookie } })).body, /Old Name/)

  await app.usersRepository.update(user.id, { name: 'New Name', dob: '1980-01-02' })
  const res = await app.inject({ url: '/profile', headers: { cookie } })
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /New Name/)
  assert.match(res.body, /1980-01-02/)
  assert.doesNotMatch(res.body, /Old Name/)
})

test('GET /api/id answers from the cached session, and shows a change or a deletion at the next request', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app, { name: 'Old Name' })
  const cookie = await signIn(app, user.id)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).json().name, 'Old Name')
  // Behind the app's back: not seen while cached, which proves no second read of the user.
  await app.prisma.user.update({ where: { id: user.id }, data: { name: 'Behind' } })
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).json().name, 'Old Name')
  await app.usersRepository.update(user.id, { name: 'New Name' })
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).json().name, 'New Name')
  await app.usersRepository.delete(user.id)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)
})

test('the profile form saves and the next page shows the saved details', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app, { name: 'Before' })
  const cookie = await signIn(app, user.id)
  const saved = await submitForm(app, '/profile', { name: 'After', dob: '1970-03-04' }, { cookie })
  assert.equal(saved.statusCode, 303)
  const res = await app.inject({ url: '/profile', headers: { cookie: mergeCookies(cookie, cookiesFrom(saved)) } })
  assert.match(res.body, /value="After"/)
  assert.match(res.body, /Your details were saved/)
})

test('a deleted user is signed out at the next request: profile and home', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  assert.equal((await app.inject({ url: '/profile', headers: { cookie } })).statusCode, 200)

  await app.usersRepository.delete(user.id)
  assert.ok(isSignInRedirect(await app.inject({ url: '/profile', headers: { cookie } })))
  const home = await app.inject({ url: '/', headers: { cookie } })
  assert.equal(home.statusCode, 200)
  assert.doesNotMatch(home.body, new RegExp(user.uid))
  assert.match(home.body, /href="\/login"/)
})

test('a role change by an Admin ends the user\'s cached session at once', async (t) => {
  const app = await build(t)
  const { user: admin } = await createAdmin(app)
  const { user } = await createUser(app)
  const adminCookie = await signIn(app, admin.id)
  const cookie = await signIn(app, user.id)
  assert.match((await app.inject({ url: '/', headers: { cookie } })).body, /role <strong>User<\/strong>/)

  const changed = await app.inject({
    method: 'PUT',
    url: `/api/users/${user.id}`,
    headers: { cookie: adminCookie, 'content-type': 'application/json' },
    payload: { role: 'Admin' }
  })
  assert.equal(changed.statusCode, 200)
  assert.ok(isSignInRedirect(await app.inject({ url: '/profile', headers: { cookie } })))
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)
})

test('a password change signs the other cached session out at once, and this one carries on with a new token', async (t) => {
  const app = await build(t)
  const { user, password } = await createUser(app)
  const here = await signIn(app, user.id)
  const elsewhere = await signIn(app, user.id)
  for (const cookie of [here, elsewhere]) assert.equal((await app.inject({ url: '/profile', headers: { cookie } })).statusCode, 200)

  const changed = await submitForm(app, '/profile/password', { currentPassword: password, newPassword: 'a-brand-new-password' }, { cookie: here })
  assert.equal(changed.statusCode, 303)
  assert.equal(changed.headers.location, '/profile')
  assert.ok(isSignInRedirect(await app.inject({ url: '/profile', headers: { cookie: elsewhere } })))
  assert.ok(isSignInRedirect(await app.inject({ url: '/profile', headers: { cookie: here } })), 'the old token of this device is replaced too')
  const renewed = await app.inject({ url: '/profile', headers: { cookie: mergeCookies(here, cookiesFrom(changed)) } })
  assert.equal(renewed.statusCode, 200)
  assert.match(renewed.body, /Password changed/)
})

test('signing out, one device out, and everywhere else out: the next request with those cookies is refused', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const [main, second, third, fourth] = await Promise.all([1, 2, 3, 4].map(() => signIn(app, user.id)))
  for (const cookie of [main, second, third, fourth]) assert.equal((await app.inject({ url: '/profile', headers: { cookie } })).statusCode, 200)

  // One device: revoke `second` from `main`'s profile, by the handle the page shows.
  const page = await app.inject({ url: '/profile', headers: { cookie: main } })
  const handles = [...page.body.matchAll(/action="\/profile\/sessions\/([A-Za-z0-9_-]{22})\/revoke"/g)].map(m => m[1])
  const secondId = (await app.inject({ url: '/api/sessions', headers: { cookie: second } })).json<Array<{ id: string, current: boolean }>>().find(s => s.current)!.id
  assert.ok(handles.includes(secondId))
  const one = await submitForm(app, `/profile/sessions/${secondId}/revoke`, {}, { cookie: main })
  assert.equal(one.statusCode, 303)
  assert.ok(isSignInRedirect(await app.inject({ url: '/profile', headers: { cookie: second } })))
  assert.doesNotMatch((await app.inject({ url: '/profile', headers: { cookie: main } })).body, new RegExp(secondId))

  // Everywhere else: `third` and `fourth` end, `main` stays.
  const others = await submitForm(app, '/profile/sessions/others/revoke', {}, { cookie: main })
  assert.equal(others.statusCode, 303)
  for (const cookie of [third, fourth]) assert.ok(isSignInRedirect(await app.inject({ url: '/profile', headers: { cookie } })))
  assert.equal((await app.inject({ url: '/profile', headers: { cookie: main } })).statusCode, 200)

  // Sign-out: the cookie is dead at once, and the home page is the signed-out one.
  const out = await submitForm(app, '/logout', {}, { cookie: main })
  assert.equal(out.statusCode, 303)
  assert.ok(isSignInRedirect(await app.inject({ url: '/profile', headers: { cookie: main } })))
  assert.match((await app.inject({ url: '/', headers: { cookie: main } })).body, /href="\/login"/)
})

test('the signed-out home page is rendered once, equals a fresh render, and carries no token or cookie', async (t) => {
  const app = await build(t)
  const first = await app.inject({ url: '/' })
  const second = await app.inject({ url: '/?utm=1' })
  assert.equal(first.statusCode, 200)
  assert.equal(second.body, first.body)
  assert.equal(second.headers['content-type'], 'text/html; charset=utf-8')
  assert.equal(first.headers['set-cookie'], undefined, 'no CSRF cookie for a page without forms')
  assert.doesNotMatch(first.body, /_csrf/)
  // Security headers are still sent with the reused page.
  assert.match(String(second.headers['content-security-policy']), /frame-ancestors 'none'/)

  const fresh = await app.view('pages/home', { currentUser: null, flash: null, currentPath: '/', csrf: { token: () => assert.fail('no token') } })
  assert.equal(first.body, fresh)
})

test('the home page is never the cached one for a signed-in user or a visitor with a flash message', async (t) => {
  const app = await build(t)
  await app.inject({ url: '/' })
  const { user } = await createUser(app, { name: 'Ada Signed-In' })
  const cookie = await signIn(app, user.id)
  const signedIn = await app.inject({ url: '/', headers: { cookie } })
  assert.match(signedIn.body, /Welcome, Ada Signed-In/)
  assert.match(signedIn.body, /name="_csrf" value="[^"]+"/, 'the navbar sign-out form has its token')
  assert.equal(signedIn.headers['cache-control'], 'no-store')

  // A flash message (set before a redirect to /) is shown once, not replaced by the cached page.
  const flash = `flash=${encodeURIComponent(app.signCookie(JSON.stringify({ kind: 'info', message: 'Hello from the flash' })))}`
  const withFlash = await app.inject({ url: '/', headers: { cookie: flash } })
  assert.match(withFlash.body, /Hello from the flash/)
  const plain = await app.inject({ url: '/' })
  assert.doesNotMatch(plain.body, /Hello from the flash|class="flash/)
})

test('CSRF tokens are made for pages with forms only, and a form re-rendered after a failed post still works', async (t) => {
  const app = await build(t)
  const { user, password } = await createUser(app)
  const login = await app.inject({ url: '/login' })
  assert.ok(login.cookies.some(c => /csrf/.test(c.name)), 'the sign-in page sets the CSRF secret cookie')

  // A wrong password re-renders the form; its token must be good for the next attempt.
  const { token, cookie } = await csrfFor(app)
  const failed = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ uid: user.uid, password: 'wrong-password', _csrf: token }).toString()
  })
  assert.equal(failed.statusCode, 401)
  const again = /name="_csrf" value="([^"]+)"/.exec(failed.body)
  assert.ok(again !== null && again[1] !== 'undefined')
  const ok = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: mergeCookies(cookie, cookiesFrom(failed)), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ uid: user.uid, password, _csrf: again[1] }).toString()
  })
  assert.equal(ok.statusCode, 303)
})

test('every form of a page carries the same CSRF token', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const res = await app.inject({ url: '/profile', headers: { cookie } })
  assert.equal(res.statusCode, 200)
  const tokens = [...res.body.matchAll(/name="_csrf" value="([^"]+)"/g)].map(m => m[1])
  assert.ok(tokens.length >= 3, `the profile has several forms (found ${tokens.length})`)
  assert.equal(new Set(tokens).size, 1, 'one token for the whole page')
})

test("a page's CSRF token is made when a form first asks for it, and only once", () => {
  let made = 0
  const reply = { csrfToken: () => `token-${++made}` } as unknown as FastifyReply
  const csrf = new PageCsrfToken(reply)
  assert.equal(made, 0, 'nothing made before a form asks')
  assert.equal(csrf.token(), 'token-1')
  assert.equal(csrf.token(), 'token-1')
  assert.equal(made, 1)
})
