/**
 * SECURITY.md section D: authentication (S21–S24).
 *
 * The login field is `uid` (SECURITY.md says "username"). Hashing is argon2id, configured
 * cheap in tests; the throttling threshold is lowered per test with LOGIN_RATE_LIMIT.
 *
 * SECURITY.md section E: redirects (S25).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { build, signIn, submitForm } from '../helper.ts'
import { createAdmin, createUser } from '../factories.ts'
import { loadConfig } from '../../src/config.ts'
import { DEMO_USERS, seedDemoUsers, SeedRefusedError } from '../../src/db/seed.ts'
import { assertNever, buildLogged, httpRequest, listen, type RawResponse, setCookieLines, setCookieLinesFor, setup } from './support.ts'

const FORM = 'application/x-www-form-urlencoded'

/** A sign-in page's CSRF token and cookie, fetched over the real socket. */
async function loginForm (port: number): Promise<{ token: string, cookie: string }> {
  const page = await httpRequest(port, { path: '/login' })
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1]
  assert.ok(token !== undefined, 'the sign-in form has a CSRF token')
  const cookie = (page.headers['set-cookie'] ?? []).map(c => c.split(';')[0]).join('; ')
  return { token, cookie }
}

function authCookieSet (res: RawResponse, name: string): boolean {
  return (res.headers['set-cookie'] ?? []).some(c => c.startsWith(`${name}=`) && !c.startsWith(`${name}=;`))
}

test('S21 repeated failed sign-ins are throttled per client', async (t) => {
  const { app, logs } = await buildLogged(t, { LOGIN_RATE_LIMIT: '5', LOGIN_RATE_WINDOW_SECONDS: '60' })
  const { user, password } = await createUser(app)
  const { user: other, password: otherPassword } = await createUser(app)
  const { user: spare } = await createUser(app)
  // The per-account throttle's clock stands still here, so its waits never run out halfway
  // through; a subtest moves it on explicitly (test/plugins/login-throttle.test.ts has the rest).
  let now = Date.now()
  t.mock.method(app.loginThrottle, 'now', () => now)
  const port = await listen(app)
  const form = await loginForm(port)
  const name = app.config.cookie.name
  const post = (uid: string, pw: string, extra: { localAddress?: string, headers?: Record<string, string> } = {}) => httpRequest(port, {
    method: 'POST',
    path: '/login',
    headers: { 'content-type': FORM, cookie: form.cookie, ...extra.headers },
    body: new URLSearchParams({ uid, password: pw, _csrf: form.token }).toString(),
    localAddress: extra.localAddress
  })

  await t.test('after the threshold (5) wrong passwords are answered 429 with Retry-After', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) {
      const res = await post(user.uid, `wrong-password-${i}`)
      statuses.push(res.status)
      if (res.status === 429) {
        const retryAfter = Number(res.headers['retry-after'])
        assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After: ${res.headers['retry-after']}`)
        assert.ok(!authCookieSet(res, name))
      }
    }
    assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(15).fill(429)])
  })

  await t.test('the right password during the block is not accepted', async () => {
    const res = await post(user.uid, password)
    assert.equal(res.status, 429)
    assert.ok(!authCookieSet(res, name), 'no session cookie')
  })

  await t.test('a rotating X-Forwarded-For does not escape the block (trustProxy is off)', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await post(user.uid, password, { headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } })
      assert.equal(res.status, 429)
      assert.ok(!authCookieSet(res, name))
    }
  })

  await t.test('another client is not affected', async () => {
    const res = await post(other.uid, otherPassword, { localAddress: '127.0.0.2' })
    assert.equal(res.status, 303)
    assert.ok(authCookieSet(res, name))
  })

  await t.test('the account itself is held for every client after 5 failures: the right password from a fresh address gets 429', async () => {
    const res = await post(user.uid, password, { localAddress: '127.0.0.5' })
    assert.equal(res.status, 429)
    const retryAfter = Number(res.headers['retry-after'])
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After: ${res.headers['retry-after']}`)
    assert.match(res.body, /Please wait \d+ seconds? before trying again\./)
    assert.ok(!authCookieSet(res, name), 'no session cookie')
  })

  await t.test('once the account\'s wait is over, the right password signs in (no permanent lockout)', async () => {
    now += 2_000
    const res = await post(user.uid, password, { localAddress: '127.0.0.5' })
    assert.equal(res.status, 303)
    assert.ok(authCookieSet(res, name))
  })

  await t.test('password spraying (many users, one password) from one client is throttled too', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 10; i++) {
      statuses.push((await post(`sprayed-user-${i}`, 'Winter2025!', { localAddress: '127.0.0.3' })).status)
    }
    assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(5).fill(429)])
  })

  await t.test('the JSON sign-in is throttled the same way', async () => {
    // An account with no failures yet: `user` is now held by the per-account throttle as well,
    // which would answer 429 from the first try and hide what this subtest checks (per client).
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) {
      const res = await httpRequest(port, { method: 'POST', path: '/api/authenticate', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uid: spare.uid, password: `wrong-${i}` }), localAddress: '127.0.0.4' })
      statuses.push(res.status)
      if (res.status === 429) assert.ok(Number(res.headers['retry-after']) > 0)
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429])
  })

  await t.test('each failure is logged with the user id and never the password', async () => {
    const failures = logs.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.msg === 'sign-in failed')
    assert.ok(failures.length >= 5 + 5 + 5, `failures logged: ${failures.length}`)
    assert.ok(failures.some(l => l.uid === user.uid))
    const all = logs.join('\n')
    assert.ok(!all.includes('wrong-password-0') && !all.includes(password) && !all.includes('Winter2025!'), 'no password in the logs')
  })
})

test('S22 sign-in failures do not reveal whether a user exists', async (t) => {
  // Dozens of failures per user id follow: the per-account throttle is set out of the way so
  // every one reaches the password check (the throttle's own S22 case is the next test).
  const { app, user } = await setup(t, { LOGIN_ACCOUNT_FREE_ATTEMPTS: '100000' })
  const unknown = 'no-such-user-here'

  const api = (uid: string, password: string) => app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid, password } })
  const headerNames = (res: Awaited<ReturnType<typeof api>>) => Object.keys(res.headers).filter(h => h !== 'date').sort()

  await t.test('the API answers an unknown user and a wrong password identically (401, same body, same headers)', async () => {
    const a = await api(unknown, 'some-password')
    const b = await api(user.uid, 'some-password')
    assert.equal(a.statusCode, 401)
    assert.equal(b.statusCode, 401)
    assert.equal(a.body, b.body)
    assert.deepEqual(headerNames(a), headerNames(b))
    assert.deepEqual(setCookieLines(a), [])
    assert.deepEqual(setCookieLines(b), [])
  })

  await t.test('an empty password is answered identically for known and unknown users (API and form)', async () => {
    const a = await api(unknown, '')
    const b = await api(user.uid, '')
    assert.equal(a.statusCode, 401)
    assert.equal(a.statusCode, b.statusCode)
    assert.equal(a.body, b.body)
    // The form reports the empty field before any lookup (422, the app's form-error status).
    const fa = await submitForm(app, '/login', { uid: unknown, password: '' })
    const fb = await submitForm(app, '/login', { uid: user.uid, password: '' })
    assert.equal(fa.statusCode, 422)
    assert.equal(fa.statusCode, fb.statusCode)
    const normalise = (body: string, uid: string) => body.replaceAll(uid, '{uid}').replace(/name="_csrf" value="[^"]+"/g, '')
    assert.equal(normalise(fa.body, unknown), normalise(fb.body, user.uid))
  })

  await t.test('the form answers an unknown user and a wrong password with the same page and status', async () => {
    const a = await submitForm(app, '/login', { uid: unknown, password: 'some-password' })
    const b = await submitForm(app, '/login', { uid: user.uid, password: 'some-password' })
    assert.equal(a.statusCode, 401)
    assert.equal(b.statusCode, 401)
    // The typed user id is echoed back in the form; everything else is identical.
    const normalise = (body: string, uid: string) => body.replaceAll(uid, '{uid}').replace(/name="_csrf" value="[^"]+"/g, '')
    assert.equal(normalise(a.body, unknown), normalise(b.body, user.uid))
    assert.match(a.body, /Incorrect user id or password\./)
    assert.deepEqual(setCookieLines(a).map(c => c.split('=')[0]), setCookieLines(b).map(c => c.split('=')[0]))
    assert.deepEqual(setCookieLinesFor(a, app.config.cookie.name), [])
  })

  await t.test('response times for unknown and known users do not differ measurably (median gap < 20 ms)', async () => {
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
    const unknownTimes: number[] = []
    const knownTimes: number[] = []
    await api(unknown, 'warm-up-password') // the dummy hash is computed on first use
    for (let i = 0; i < 30; i++) {
      for (const [uid, times] of [[unknown, unknownTimes], [user.uid, knownTimes]] as const) {
        const start = process.hrtime.bigint()
        const res = await api(uid, `wrong-password-${i}`)
        times.push(Number(process.hrtime.bigint() - start) / 1e6)
        assert.equal(res.statusCode, 401)
      }
    }
    const gap = Math.abs(median(unknownTimes) - median(knownTimes))
    assert.ok(gap < 20, `median gap ${gap.toFixed(2)} ms`)
  })
})

test('S22 the per-account throttle answers unknown and known user ids alike', async (t) => {
  const { app, user, password } = await setup(t)
  t.mock.method(app.loginThrottle, 'now', () => 1_700_000_000_000)
  const unknown = 'no-such-user-here'
  const free = app.config.accountThrottle.freeAttempts
  const api = (uid: string, pw: string) => app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid, password: pw } })
  const headerNames = (res: Awaited<ReturnType<typeof api>>) => Object.keys(res.headers).filter(h => h !== 'date').sort()

  await t.test('the API: the same 401s, then the same 429 with the same Retry-After, body and header names', async () => {
    for (let i = 0; i < free; i++) {
      assert.equal((await api(unknown, `wrong-${i}`)).statusCode, 401)
      assert.equal((await api(user.uid, `wrong-${i}`)).statusCode, 401)
    }
    const a = await api(unknown, 'wrong-again')
    const b = await api(user.uid, password)
    assert.equal(a.statusCode, 429)
    assert.equal(b.statusCode, 429, 'the right password during the wait is refused like any other')
    assert.equal(a.body, b.body)
    assert.equal(a.headers['retry-after'], b.headers['retry-after'])
    assert.deepEqual(headerNames(a), headerNames(b))
    assert.deepEqual(setCookieLines(b), [])
  })

  await t.test('the form: the same 429 page for both, apart from the echoed user id', async () => {
    const a = await submitForm(app, '/login', { uid: unknown, password: 'wrong-again' })
    const b = await submitForm(app, '/login', { uid: user.uid, password })
    assert.equal(a.statusCode, 429)
    assert.equal(b.statusCode, 429)
    const normalise = (body: string, uid: string) => body.replaceAll(uid, '{uid}').replace(/name="_csrf" value="[^"]+"/g, '')
    assert.equal(normalise(a.body, unknown), normalise(b.body, user.uid))
    assert.equal(a.headers['retry-after'], b.headers['retry-after'])
    assert.deepEqual(setCookieLinesFor(b, app.config.cookie.name), [])
  })
})

test('S23 only the exact password signs in, and odd passwords are handled safely', async (t) => {
  const app = await build(t)
  const signInStatus = async (uid: string, password: unknown) =>
    (await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid, password } })).statusCode

  await t.test('a 100-character password is not truncated to 72 bytes', async () => {
    const password = 'Aa1-'.repeat(25)
    const { user } = await createUser(app, { password })
    assert.equal(await signInStatus(user.uid, password.slice(0, 72) + 'X'.repeat(28)), 401)
    assert.equal(await signInStatus(user.uid, password.slice(0, 72)), 401)
    assert.equal(await signInStatus(user.uid, password), 200)
  })

  await t.test('passwords are neither trimmed nor case-folded', async () => {
    const password = '  Spaced Password  '
    const { user } = await createUser(app, { password })
    assert.equal(await signInStatus(user.uid, password.trim()), 401)
    assert.equal(await signInStatus(user.uid, password.toLowerCase()), 401)
    assert.equal(await signInStatus(user.uid, password.toUpperCase()), 401)
    assert.equal(await signInStatus(user.uid, password), 200)
  })

  await t.test('64- and 128-character passwords are accepted at sign-up and sign-in', async () => {
    for (const length of [64, 128]) {
      const password = 'p'.repeat(length - 2) + '!9'
      const uid = `long${length}`
      const created = await app.inject({ method: 'POST', url: '/api/users', payload: { uid, name: `Long ${length}`, password } })
      assert.equal(created.statusCode, 201)
      assert.equal(await signInStatus(uid, password), 200)
    }
  })

  await t.test('a 1 MiB password is refused with 413 before any hashing', async () => {
    const { user } = await createUser(app)
    const huge = 'p'.repeat(1024 * 1024)
    const start = Date.now()
    const api = await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: user.uid, password: huge } })
    assert.equal(api.statusCode, 413)
    const form = await submitForm(app, '/login', { uid: user.uid, password: huge })
    assert.equal(form.statusCode, 413)
    const signup = await app.inject({ method: 'POST', url: '/api/users', payload: { uid: 'huge-one', name: 'Huge', password: huge } })
    assert.equal(signup.statusCode, 413)
    assert.ok(Date.now() - start < 3000, 'refused quickly')
    for (const res of [api, form, signup]) assertNever(app, res)
  })

  await t.test('a password of the wrong JSON type is refused with 400 (object, several values, empty array)', async () => {
    const { user } = await createUser(app)
    for (const password of [{ not: '' }, ['a', 'b'], [], { $ne: null }]) {
      const res = await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: user.uid, password } })
      assert.equal(res.statusCode, 400, `${JSON.stringify(password)}: ${res.statusCode}`)
      assertNever(app, res)
      assert.deepEqual(setCookieLines(res), [])
    }
  })

  await t.test('a number, boolean, null or one-element array is a 400, even when it holds the password: bodies are not type-coerced', async () => {
    const { user } = await createUser(app, { password: '12345678' })
    for (const password of [12345678, ['12345678'], true, null]) {
      const res = await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: user.uid, password } })
      assert.equal(res.statusCode, 400, `${JSON.stringify(password)}: ${res.statusCode}`)
      assertNever(app, res)
    }
    // The same for the user id, and for sign-up and update bodies.
    assert.equal((await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: [user.uid], password: '12345678' } })).statusCode, 400)
    assert.equal((await app.inject({ method: 'POST', url: '/api/users', payload: { uid: 'typed-user', name: 'Typed', password: 12345678 } })).statusCode, 400)
    assert.equal((await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: user.uid, password: '12345678' } })).statusCode, 200)
  })
})

test('S24 no default or demo account works in production', async (t) => {
  const app = await build(t, { NODE_ENV: 'production' })

  await t.test('a fresh production database has no users, and well-known credentials do not sign in', async () => {
    assert.equal(await app.prisma.user.count(), 0)
    const tries: Array<[string, string]> = [
      ['admin', 'admin'], ['admin', 'password'], ['admin', 'changeme'], ['root', 'root'],
      ...DEMO_USERS.map(u => [u.uid, u.password] as [string, string])
    ]
    for (const [uid, password] of tries) {
      const res = await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid, password } })
      assert.equal(res.statusCode, 401, `${uid}/${password}`)
      assert.deepEqual(setCookieLines(res), [])
    }
  })

  await t.test('seeding the demo users refuses to run when NODE_ENV=production', async () => {
    await assert.rejects(seedDemoUsers(app.usersRepository, { env: 'production' }), SeedRefusedError)
    await assert.rejects(seedDemoUsers(app.usersRepository, { env: 'production', onlyIfEmpty: true }), SeedRefusedError)
    assert.equal(await app.prisma.user.count(), 0)
  })

  await t.test('production does not enable demo seeding by default', () => {
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: app.config.jwt.secret, INSTANCE_DIR: app.config.instanceDir })
    assert.equal(config.seedDemoUsers, false)
  })

  await t.test('an Admin exists only when someone creates one (no built-in Admin)', async () => {
    const { user } = await createAdmin(app, { uid: 'first-admin' })
    assert.equal(await app.prisma.user.count({ where: { role: 'Admin' } }), 1)
    assert.equal(user.uid, 'first-admin')
  })
})

const HOSTILE_NEXT = [
  'https://evil.example',
  '//evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '/%2F%2Fevil.example',
  '%2F%2Fevil.example',
  'https:evil.example',
  'javascript:alert(1)',
  '/%0d%0aSet-Cookie:%20x=y',
  '/\r\nSet-Cookie: x=y',
  '/ok"><script>alert(1)</script>',
  '/\t/evil.example',
  '///evil.example'
]

/** A Location that stays on this site: a path starting with exactly one `/`, no CR/LF, no backslash. */
function assertSameOriginLocation (location: string): void {
  assert.match(location, /^\/(?![/\\])/, `Location ${JSON.stringify(location)} is a same-origin path`)
  assert.doesNotMatch(location, /[\r\n\\]/)
  assert.equal(new URL(location, 'https://app.invalid').origin, 'https://app.invalid')
}

test('S25 sign-in redirects never leave the site', async (t) => {
  const { app, user, password } = await setup(t)

  await t.test('a same-origin next is honoured (control)', async () => {
    const res = await submitForm(app, '/login', { uid: user.uid, password, next: '/users?sort=name' })
    assert.equal(res.statusCode, 303)
    assert.equal(res.headers.location, '/users?sort=name')
  })

  for (const next of HOSTILE_NEXT) {
    await t.test(`signing in with next=${JSON.stringify(next)} redirects to a same-origin path, without header injection`, async () => {
      const res = await submitForm(app, '/login', { uid: user.uid, password, next })
      assert.equal(res.statusCode, 303)
      const location = String(res.headers.location)
      assertSameOriginLocation(location)
      assert.ok(!setCookieLines(res).some(c => c.startsWith('x=')), 'no injected cookie')
      assertNever(app, res)
    })
  }

  await t.test('an already signed-in visitor opening /login?next=<hostile> is sent to a same-origin path', async () => {
    const cookie = await signIn(app, user.id)
    for (const next of HOSTILE_NEXT.filter(n => !/[\r\n\t]/.test(n))) {
      const res = await app.inject({ method: 'GET', url: `/login?next=${encodeURIComponent(next)}`, headers: { cookie } })
      assert.equal(res.statusCode, 303, next)
      assertSameOriginLocation(String(res.headers.location))
    }
  })

  await t.test('the next value echoed into the sign-in form is attribute-escaped', async () => {
    const res = await app.inject({ method: 'GET', url: `/login?next=${encodeURIComponent('/ok"><script>alert(1)</script>')}` })
    assert.equal(res.statusCode, 200)
    assert.ok(!res.body.includes('"><script>alert(1)'), 'no attribute break-out')
    const value = /name="next" value="([^"]*)"/.exec(res.body)?.[1]
    assert.ok(value === undefined || !/[<>"]/.test(value), `escaped next: ${value}`)
    for (const next of ['//evil.example', 'https://evil.example', 'javascript:alert(1)']) {
      const page = await app.inject({ method: 'GET', url: `/login?next=${encodeURIComponent(next)}` })
      assert.equal(page.statusCode, 200)
      assert.ok(!page.body.includes('evil.example') && !page.body.includes('javascript:'), `${next} is dropped, not echoed`)
    }
  })

  await t.test('unauthenticated requests are redirected with relative Locations, whatever the Host header says', async () => {
    for (const [url, headers] of [
      ['/profile', { host: 'evil.example' }],
      ['/profile', { host: 'evil.example', 'x-forwarded-host': 'evil.example' }],
      ['//evil.example/%2e%2e', {}],
      ['/users//evil.example', {}]
    ] as const) {
      const res = await app.inject({ method: 'GET', url, headers })
      assertNever(app, res)
      const location = res.headers.location
      if (location !== undefined) {
        assertSameOriginLocation(String(location))
        assert.ok(!String(location).includes('evil.example') || String(location).startsWith('/login?next=%2F'), `Location ${String(location)}`)
      }
    }
    const res = await app.inject({ method: 'GET', url: '/profile', headers: { host: 'evil.example' } })
    assert.equal(res.headers.location, '/login?next=%2Fprofile')
  })
})
