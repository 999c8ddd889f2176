import assert from 'node:assert/strict'
import { test } from 'node:test'
import { build, cookiesFrom, mergeCookies, signIn, submitForm } from '../helper.ts'
import { createAdmin, createUser, snapshot } from '../factories.ts'

test('a signed-in visitor gets public files with their own caching, and pages with no-store', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const css = await app.inject({ url: '/css/app.css', headers: { cookie } })
  assert.equal(css.statusCode, 200)
  assert.equal(css.headers['cache-control'], 'public, max-age=3600')
  assert.ok(css.headers.etag, 'revalidated with an ETag')
  const signedOut = await app.inject({ url: '/css/app.css' })
  assert.equal(signedOut.headers['cache-control'], css.headers['cache-control'], 'the same for everyone')
  assert.equal((await app.inject({ url: '/profile', headers: { cookie } })).headers['cache-control'], 'no-store')
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).headers['cache-control'], 'no-store')
})

test('the home page shows a sign-in link to visitors and the user with a sign-out form when signed in', async (t) => {
  const app = await build(t)
  const anonymous = await app.inject({ url: '/' })
  assert.equal(anonymous.statusCode, 200)
  assert.match(anonymous.body, /href="\/login">Sign in</)
  assert.match(anonymous.body, /href="\/signup">Sign up</)
  assert.notEqual(anonymous.headers['cache-control'], 'no-store')

  const { user } = await createUser(app, { name: 'Ada Byron' })
  const res = await app.inject({ url: '/', headers: { cookie: await signIn(app, user.id) } })
  assert.match(res.body, new RegExp(`Ada Byron <span class="muted">\\(${user.uid}, User\\)</span>`))
  assert.match(res.body, /<form method="post" action="\/logout"/)
  assert.equal(res.headers['cache-control'], 'no-store')
})

test('protected pages send signed-out visitors to /login with next (303)', async (t) => {
  const app = await build(t)
  for (const url of ['/profile', '/users', '/users/1/delete']) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 303, url)
    assert.equal(res.headers.location, `/login?next=${encodeURIComponent(url)}`)
  }
})

test('sign-out revokes the session, clears the cookie and the old cookie no longer works', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const res = await submitForm(app, '/logout', {}, { cookie })
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/login?signed_out=1')
  assert.equal(res.headers['clear-site-data'], '"cache", "cookies"')
  const cleared = res.cookies.find(c => c.name === 'token')
  assert.ok(cleared && (cleared.maxAge === 0 || (cleared.expires !== undefined && cleared.expires.getTime() < Date.now())))
  assert.equal(cleared.path, '/')
  const sessions = await app.prisma.session.findMany({ where: { userId: user.id } })
  assert.equal(sessions.length, 1)
  assert.ok(sessions[0].revokedAt instanceof Date)
  const again = await app.inject({ url: '/profile', headers: { cookie } })
  assert.equal(again.statusCode, 303)
})

test('sign-out only accepts POST', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/logout' })
  assert.equal(res.statusCode, 404)
})

test('sign-up creates an account, signs it in and lands on the profile', async (t) => {
  const app = await build(t)
  const res = await submitForm(app, '/signup', { name: 'New Person', uid: 'NewPerson', password: 'long-enough-1', dob: '2001-02-03' }, { page: '/signup' })
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/profile')
  const user = await app.usersRepository.findByUid('newperson')
  assert.equal(user?.name, 'New Person')
  assert.equal(user?.role, 'User')
  assert.ok(user?.passwordHash.startsWith('$argon2id$'))
  assert.ok(res.cookies.find(c => c.name === 'token'))
})

test('sign-up with invalid input answers 422 with errors tied to their fields and stores nothing', async (t) => {
  const app = await build(t)
  const before = await snapshot(app)
  const res = await submitForm(app, '/signup', { name: ' ', uid: '-bad id', password: 'short', dob: '2999-01-01' }, { page: '/signup' })
  assert.equal(res.statusCode, 422)
  for (const field of ['name', 'uid', 'password', 'dob']) {
    assert.match(res.body, new RegExp(`id="field-${field}"[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*field-${field}-error`), field)
    assert.match(res.body, new RegExp(`id="field-${field}-error"`), field)
  }
  assert.doesNotMatch(res.body, /value="short"/)
  assert.deepEqual(await snapshot(app), before)
})

test('sign-up with a taken user id (any case) answers 422 on the uid field', async (t) => {
  const app = await build(t)
  await createUser(app, { uid: 'taken' })
  const res = await submitForm(app, '/signup', { name: 'Someone', uid: 'TAKEN', password: 'long-enough-1' }, { page: '/signup' })
  assert.equal(res.statusCode, 422)
  assert.match(res.body, /That user id is already taken/)
})

test('sign-up can be switched off', async (t) => {
  const app = await build(t, { SIGNUP_ENABLED: 'false' })
  const page = await app.inject({ url: '/signup' })
  assert.equal(page.statusCode, 403)
  const home = await app.inject({ url: '/' })
  assert.doesNotMatch(home.body, /href="\/signup"/)
  const api = await app.inject({ method: 'POST', url: '/api/users', payload: { uid: 'abc', name: 'A', password: 'long-enough-1' } })
  assert.equal(api.statusCode, 403)
})

test('the profile shows the user and their active sessions, and saves details', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app, { name: 'Old Name' })
  const cookie = await signIn(app, user.id)
  const page = await app.inject({ url: '/profile', headers: { cookie } })
  assert.equal(page.statusCode, 200)
  assert.equal(page.headers['cache-control'], 'no-store')
  assert.match(page.body, /value="Old Name"/)
  assert.match(page.body, /\(this session\)/)

  const res = await submitForm(app, '/profile', { name: 'New Name', dob: '1980-01-02' }, { cookie })
  assert.equal(res.statusCode, 303)
  const updated = await app.usersRepository.findById(user.id)
  assert.equal(updated?.name, 'New Name')
  assert.equal(updated?.dob?.toISOString().slice(0, 10), '1980-01-02')
})

test('changing the password needs the current one, renews this session and signs out the others', async (t) => {
  const app = await build(t)
  const { user, password } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const otherDevice = await signIn(app, user.id)

  const wrong = await submitForm(app, '/profile/password', { currentPassword: 'not-it-at-all', newPassword: 'brand-new-pass' }, { cookie })
  assert.equal(wrong.statusCode, 422)
  assert.match(wrong.body, /That is not your current password/)
  assert.ok(await app.passwordHasher.verify((await app.usersRepository.findById(user.id))!.passwordHash, password))

  const ok = await submitForm(app, '/profile/password', { currentPassword: password, newPassword: 'brand-new-pass' }, { cookie })
  assert.equal(ok.statusCode, 303)
  assert.ok(await app.passwordHasher.verify((await app.usersRepository.findById(user.id))!.passwordHash, 'brand-new-pass'))
  // This device continues on a fresh session (new jti); both old tokens are dead.
  const renewed = ok.cookies.find(c => c.name === 'token')
  assert.ok(renewed && renewed.value !== '' && `token=${renewed.value}` !== cookie)
  assert.equal((await app.inject({ url: '/profile', headers: { cookie: `token=${renewed.value}` } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/profile', headers: { cookie } })).statusCode, 303)
  assert.equal((await app.inject({ url: '/profile', headers: { cookie: otherDevice } })).statusCode, 303)
  const page = await app.inject({ url: '/profile', headers: { cookie: mergeCookies(`token=${renewed.value}`, cookiesFrom(ok)) } })
  assert.match(page.body, /Password changed\. Your other session was signed out\./)
})

test('every signed-in user sees the users list read-only; Admins get the actions', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { user: admin } = await createAdmin(app)
  const asUser = await app.inject({ url: '/users', headers: { cookie: await signIn(app, user.id) } })
  assert.equal(asUser.statusCode, 200)
  assert.match(asUser.body, new RegExp(`<td>${admin.uid}</td>`))
  assert.doesNotMatch(asUser.body, /Set role/)
  const asAdmin = await app.inject({ url: '/users', headers: { cookie: await signIn(app, admin.id) } })
  assert.match(asAdmin.body, /Set role/)
  assert.match(asAdmin.body, new RegExp(`href="/users/${user.id}/delete"`))
})

test('an Admin changes a role and deletes a user (with a confirmation page); their sessions end', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { user: admin } = await createAdmin(app)
  const adminCookie = await signIn(app, admin.id)
  const userCookie = await signIn(app, user.id)

  const role = await submitForm(app, `/users/${user.id}/role`, { role: 'Admin' }, { cookie: adminCookie, page: '/users' })
  assert.equal(role.statusCode, 303)
  assert.equal((await app.usersRepository.findById(user.id))?.role, 'Admin')

  const confirm = await app.inject({ url: `/users/${user.id}/delete`, headers: { cookie: adminCookie } })
  assert.equal(confirm.statusCode, 200)
  assert.match(confirm.body, /Delete user/)
  const del = await submitForm(app, `/users/${user.id}/delete`, {}, { cookie: adminCookie, page: '/users' })
  assert.equal(del.statusCode, 303)
  assert.equal(await app.usersRepository.findById(user.id), null)
  assert.equal((await app.inject({ url: '/profile', headers: { cookie: userCookie } })).statusCode, 303)
})

test('a User is refused the Admin actions with a 403 page and nothing changes', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { user: other } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const before = await snapshot(app)
  const page = await app.inject({ url: `/users/${other.id}/delete`, headers: { cookie } })
  assert.equal(page.statusCode, 403)
  assert.match(page.body, /<h1>Forbidden<\/h1>/)
  const role = await submitForm(app, `/users/${other.id}/role`, { role: 'Admin' }, { cookie, page: '/users' })
  assert.equal(role.statusCode, 403)
  const del = await submitForm(app, `/users/${other.id}/delete`, {}, { cookie, page: '/users' })
  assert.equal(del.statusCode, 403)
  assert.deepEqual(await snapshot(app), before)
})

test('an Admin cannot demote or delete themselves', async (t) => {
  const app = await build(t)
  const { user: admin } = await createAdmin(app)
  const cookie = await signIn(app, admin.id)
  const role = await submitForm(app, `/users/${admin.id}/role`, { role: 'User' }, { cookie, page: '/users' })
  assert.equal(role.statusCode, 409)
  const del = await submitForm(app, `/users/${admin.id}/delete`, {}, { cookie, page: '/users' })
  assert.equal(del.statusCode, 409)
  assert.equal((await app.usersRepository.findById(admin.id))?.role, 'Admin')
})

test('the public table sorts on the server; unknown sort keys and extra parameters fall back to the default', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/table?sort=name&order=desc' })
  assert.equal(res.statusCode, 200)
  const names = [...res.body.matchAll(/<tr><td>([^<]+)<\/td>/g)].map(m => m[1])
  assert.deepEqual(names, [...names].sort((a, b) => b.localeCompare(a)))
  assert.ok(names.length > 5)
  const fallback = await app.inject({ url: '/table?sort=passwordHash&order=sideways&page=2' })
  assert.equal(fallback.statusCode, 200)
  assert.match(fallback.body, /sorted by Born \(ascending\)/)
})

test('unknown pages get the 404 page from the layout; JSON clients get JSON', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/no/such/page' })
  assert.equal(res.statusCode, 404)
  assert.match(res.body, /<h1>Page not found<\/h1>/)
  assert.match(res.body, /<nav aria-label="Main">/)
  const json = await app.inject({ url: '/no/such/page', headers: { accept: 'application/json' } })
  assert.equal(json.statusCode, 404)
  assert.deepEqual(json.json(), { statusCode: 404, error: 'Not Found', message: 'We could not find that page.' })
})

test('a failing page renders the generic 500 page without any internals', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  t.mock.method(app.usersRepository, 'list', async () => { throw new Error('SQLITE_CORRUPT: secret internals at /srv/app.ts:12') })
  const res = await app.inject({ url: '/users', headers: { cookie } })
  assert.equal(res.statusCode, 500)
  assert.match(res.body, /Something went wrong/)
  assert.doesNotMatch(res.body, /SQLITE|internals|app\.ts/)
})

test('static assets are served with validators and caching headers', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/css/app.css' })
  assert.equal(res.statusCode, 200)
  assert.ok(res.headers.etag)
  assert.match(res.headers['cache-control'] as string, /max-age=3600/)
  const again = await app.inject({ url: '/css/app.css', headers: { 'if-none-match': res.headers.etag as string } })
  assert.equal(again.statusCode, 304)
})

test('the API reference page lists the API routes from the OpenAPI document', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/docs/api' })
  assert.equal(res.statusCode, 200)
  for (const path of ['/api/authenticate', '/api/users', '/api/id', '/api/health']) assert.match(res.body, new RegExp(`<code>${path}</code>`))
  assert.doesNotMatch(res.body, /<code>\/login<\/code>/)
})

test('an empty name on sign-up is reported on the Name field, keeping the other values', async (t) => {
  const app = await build(t)
  const res = await submitForm(app, '/signup', { name: '', uid: 'kept-uid', password: 'long-enough-1' }, { page: '/signup' })
  assert.equal(res.statusCode, 422)
  assert.match(res.body, /id="field-name"[^>]*aria-invalid="true"/)
  assert.match(res.body, /value="kept-uid"/)
})

test('pages tell people what happened: signed out, please sign in, expired forms, missing ids', async (t) => {
  const app = await build(t)
  assert.match((await app.inject({ url: '/login?signed_out=1' })).body, /You have been signed out\./)
  assert.match((await app.inject({ url: '/login?next=%2Fprofile&utm_source=mail' })).body, /Please sign in to continue\./)
  const { user } = await createAdmin(app)
  const cookie = await signIn(app, user.id)
  const stale = await app.inject({
    method: 'POST',
    url: '/profile',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'name=X&_csrf=stale-token'
  })
  assert.equal(stale.statusCode, 403)
  assert.match(stale.body, /This form has expired/)
  assert.doesNotMatch(stale.body, /Invalid csrf token|Missing csrf secret/i)
  const badId = await app.inject({ url: '/users/abc/delete', headers: { cookie } })
  assert.equal(badId.statusCode, 404)
  assert.doesNotMatch(badId.body, /params\/id/)
})

test('signing out from a stale tab when already signed out just lands on the sign-in page', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/logout', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '_csrf=old' })
  assert.equal(res.statusCode, 303)
  assert.equal(res.headers.location, '/login?signed_out=1')
})

test('setting the role a user already has says so', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { user: admin } = await createAdmin(app)
  const cookie = await signIn(app, admin.id)
  const res = await submitForm(app, `/users/${user.id}/role`, { role: 'User' }, { cookie, page: '/users' })
  const page = await app.inject({ url: '/users', headers: { cookie: mergeCookies(cookie, cookiesFrom(res)) } })
  assert.match(page.body, new RegExp(`${user.uid} is already a User\\.`))
})

test('the navbar marks the current page', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/table' })
  assert.match(res.body, /<a href="\/table" aria-current="page">Table<\/a>/)
  assert.doesNotMatch(res.body, /<a href="\/" aria-current="page">/)
})
