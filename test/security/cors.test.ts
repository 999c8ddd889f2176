/**
 * SECURITY.md S19 (CORS with credentials) and the CORS_ORIGINS allow-list (src/plugins/external/cors.ts,
 * docs/decisions/0012-cors-and-cross-site-front-ends.md).
 *
 * CORS is off by default: no response carries an Access-Control-* header and no preflight is
 * granted. With CORS_ORIGINS, exactly the listed origins get their own origin back, with
 * credentials, on /api only; every other origin (`null` and look-alikes included) gets nothing,
 * and its state-changing requests are refused by the cross-site check (403) with nothing stored.
 * Requests are made as a browser would make them: `Origin` plus `Sec-Fetch-Site: cross-site`.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { signIn } from '../helper.ts'
import { assertNever, authCookie, fullSnapshot, setCookieLinesFor, setup, tokenOf, whoIs } from './support.ts'

const FRONT_END = 'https://app.example'
const EVIL = 'https://evil.example'
/** Origins a sloppy matcher (prefix, suffix, case, scheme, port, trailing slash) would let through. */
const LOOK_ALIKES = [
  'https://app.example.evil.example',
  'https://evilapp.example',
  'http://app.example',
  'https://app.example:8443',
  'https://app.example/',
  'https://APP.example',
  `${FRONT_END}, ${EVIL}`
]
const JSON_TYPE = 'application/json'

/** Every Access-Control-* header of a response. */
function corsHeadersOf (res: LightMyRequestResponse): Record<string, unknown> {
  return Object.fromEntries(Object.entries(res.headers).filter(([name]) => name.startsWith('access-control-')))
}

/** Not a single CORS header: no origin granted, no credentials, no preflight grant. */
function assertNoCors (res: LightMyRequestResponse, what: string): void {
  assert.deepEqual(corsHeadersOf(res), {}, `${what}: no CORS headers`)
}

/** Granted to exactly `origin`, with credentials; never `*`. */
function assertGranted (res: LightMyRequestResponse, origin: string, what: string): void {
  assert.equal(res.headers['access-control-allow-origin'], origin, `${what}: ACAO is exactly the origin`)
  assert.equal(res.headers['access-control-allow-credentials'], 'true', `${what}: credentials allowed`)
  assert.match(String(res.headers.vary ?? ''), /\bOrigin\b/i, `${what}: Vary: Origin`)
}

function preflightHeaders (origin: string, method: string) {
  return { origin, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', 'access-control-request-method': method, 'access-control-request-headers': 'content-type' }
}

test('S19 with CORS off (the default) no origin is granted anything', async (t) => {
  const { app, admin } = await setup(t)
  assert.deepEqual(app.config.corsOrigins, [])
  const cookie = await signIn(app, admin.id)

  // The would-be front end too: it is not configured, so it is just another site.
  for (const origin of [EVIL, 'null', FRONT_END]) {
    await t.test(`Origin: ${origin} gets no preflight grant and no CORS header on a credentialed read`, async () => {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
        const preflight = await app.inject({ method: 'OPTIONS', url: '/api/users', headers: { ...preflightHeaders(origin, method), cookie } })
        assertNoCors(preflight, `OPTIONS for ${method}`)
        assert.ok(preflight.statusCode >= 400, `the preflight is not granted (${preflight.statusCode})`)
        assertNever(app, preflight)
      }
      for (const url of ['/api/users', '/api/id', `/api/users/${admin.id}`]) {
        const res = await app.inject({ method: 'GET', url, headers: { origin, 'sec-fetch-site': 'cross-site', cookie } })
        // The response itself is 200 (a server cannot tell a script from a navigation); without
        // CORS headers the browser keeps it from the other site's script.
        assert.equal(res.statusCode, 200, url)
        assertNoCors(res, `GET ${url}`)
      }
    })
  }

  await t.test('no response carries Vary: Origin or any Access-Control-* header, pages included', async () => {
    for (const url of ['/', '/login', '/api/health']) {
      const res = await app.inject({ method: 'GET', url, headers: { origin: EVIL } })
      assertNoCors(res, url)
      assert.doesNotMatch(String(res.headers.vary ?? ''), /\bOrigin\b/i, `${url}: no Vary: Origin`)
    }
  })
})

test('CORS_ORIGINS grants exactly the listed front end, with credentials, on the API only', async (t) => {
  const { app, user, password, admin } = await setup(t, { CORS_ORIGINS: FRONT_END })
  assert.deepEqual(app.config.corsOrigins, [FRONT_END])

  await t.test('a preflight from the front end is granted (204) for the API methods and a JSON body', async () => {
    for (const [url, method] of [['/api/authenticate', 'POST'], ['/api/users', 'POST'], ['/api/users', 'PUT'], ['/api/users', 'DELETE'], [`/api/users/${user.id}`, 'PUT'], ['/api/logout', 'POST']]) {
      const res = await app.inject({ method: 'OPTIONS', url, headers: preflightHeaders(FRONT_END, method) })
      assert.equal(res.statusCode, 204, `OPTIONS ${url} for ${method}`)
      assertGranted(res, FRONT_END, `OPTIONS ${url}`)
      const methods = String(res.headers['access-control-allow-methods']).split(/,\s*/)
      assert.deepEqual(methods, ['GET', 'POST', 'PUT', 'DELETE'])
      assert.equal(String(res.headers['access-control-allow-headers']).toLowerCase(), 'content-type', 'only Content-Type, not whatever was asked for')
      assert.ok(Number(res.headers['access-control-max-age']) > 0, 'preflights are cached')
      assert.equal(res.body, '')
    }
  })

  await t.test('the front end signs in with JSON: 200, the session cookie, and the response readable by it', async () => {
    const sessions = await app.prisma.session.count()
    const res = await app.inject({
      method: 'POST',
      url: '/api/authenticate',
      headers: { origin: FRONT_END, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', 'content-type': JSON_TYPE },
      payload: JSON.stringify({ uid: user.uid, password })
    })
    assert.equal(res.statusCode, 200, res.body)
    assertGranted(res, FRONT_END, 'POST /api/authenticate')
    assert.equal(res.json().user.id, user.id)
    const lines = setCookieLinesFor(res, app.config.cookie.name)
    assert.equal(lines.length, 1, 'the session cookie is set')
    assert.equal(await app.prisma.session.count(), sessions + 1)
    const cookie = authCookie(app, tokenOf(lines[0].split(';')[0]))
    assert.equal(await whoIs(app, cookie), user.id)

    // ...and reads with that cookie, still readable by the front end.
    const list = await app.inject({ method: 'GET', url: '/api/users', headers: { origin: FRONT_END, 'sec-fetch-site': 'cross-site', cookie } })
    assert.equal(list.statusCode, 200)
    assertGranted(list, FRONT_END, 'GET /api/users')
  })

  await t.test('errors for the front end are readable by it too (a 401 with the origin granted)', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/id', headers: { origin: FRONT_END, 'sec-fetch-site': 'cross-site' } })
    assert.equal(res.statusCode, 401)
    assertGranted(res, FRONT_END, 'GET /api/id signed out')
  })

  for (const origin of [EVIL, 'null', ...LOOK_ALIKES]) {
    await t.test(`Origin: ${origin} gets no CORS header, no preflight grant, and its state changes are refused (403) with nothing stored`, async () => {
      const cookie = await signIn(app, admin.id)
      const before = await fullSnapshot(app)

      for (const method of ['POST', 'PUT', 'DELETE']) {
        const preflight = await app.inject({ method: 'OPTIONS', url: '/api/users', headers: { ...preflightHeaders(origin, method), cookie } })
        assertNoCors(preflight, `OPTIONS for ${method}`)
        assert.ok(preflight.statusCode >= 400, `the preflight is not granted (${preflight.statusCode})`)
      }
      const read = await app.inject({ method: 'GET', url: '/api/users', headers: { origin, 'sec-fetch-site': 'cross-site', cookie } })
      assertNoCors(read, 'GET /api/users')

      // As if the browser had sent them anyway (no preflight, SameSite ignored): each is refused.
      const changes: Array<{ method: 'POST' | 'PUT' | 'DELETE', url: string, body: unknown, cookie?: string }> = [
        { method: 'POST', url: '/api/authenticate', body: { uid: user.uid, password } },
        { method: 'POST', url: '/api/users', body: { uid: 'planted', name: 'Planted', password: 'planted-password-1' } },
        { method: 'PUT', url: '/api/users', body: { uid: user.uid, role: 'Admin' }, cookie },
        { method: 'DELETE', url: '/api/users', body: { uid: user.uid }, cookie },
        { method: 'DELETE', url: `/api/users/${user.id}`, body: undefined, cookie },
        { method: 'POST', url: '/api/logout', body: undefined, cookie }
      ]
      for (const change of changes) {
        const res = await app.inject({
          method: change.method,
          url: change.url,
          headers: {
            origin,
            'sec-fetch-site': 'cross-site',
            ...(change.body === undefined ? {} : { 'content-type': JSON_TYPE }),
            ...(change.cookie === undefined ? {} : { cookie: change.cookie })
          },
          ...(change.body === undefined ? {} : { payload: JSON.stringify(change.body) })
        })
        assert.equal(res.statusCode, 403, `${change.method} ${change.url}: ${res.body}`)
        assertNoCors(res, `${change.method} ${change.url}`)
        assert.deepEqual(setCookieLinesFor(res, app.config.cookie.name), [], 'no session cookie')
        assertNever(app, res)
      }
      assert.equal(await fullSnapshot(app), before, 'nothing stored, changed or revoked')
      assert.equal(await whoIs(app, cookie), admin.id, 'the victim is still signed in')
    })
  }

  await t.test('pages never carry CORS headers, even for the listed front end', async () => {
    const cookie = await signIn(app, admin.id)
    for (const url of ['/', '/login', '/signup', '/profile', '/users', '/table', '/docs/api', '/no-such-page']) {
      const res = await app.inject({ method: 'GET', url, headers: { origin: FRONT_END, 'sec-fetch-site': 'cross-site', cookie } })
      assert.ok(res.statusCode < 500, `${url}: ${res.statusCode}`)
      assertNoCors(res, `GET ${url}`)
    }
    for (const url of ['/login', '/logout', '/profile/password', `/users/${user.id}/delete`]) {
      const preflight = await app.inject({ method: 'OPTIONS', url, headers: preflightHeaders(FRONT_END, 'POST') })
      assertNoCors(preflight, `OPTIONS ${url}`)
      assert.ok(preflight.statusCode >= 400, `OPTIONS ${url} is not granted (${preflight.statusCode})`)
    }
  })

  await t.test('a path that only starts like /api is not the API', async () => {
    for (const url of ['/apix', '/api-docs', '/docs/api']) {
      const res = await app.inject({ method: 'OPTIONS', url, headers: preflightHeaders(FRONT_END, 'POST') })
      assertNoCors(res, `OPTIONS ${url}`)
    }
  })
})

test('CORS_ORIGINS lists several front ends; each gets only its own origin back', async (t) => {
  const other = 'http://localhost:5173'
  const { app } = await setup(t, { CORS_ORIGINS: `${FRONT_END}, ${other}/` })
  assert.deepEqual(app.config.corsOrigins, [FRONT_END, other])
  for (const origin of [FRONT_END, other]) {
    const res = await app.inject({ method: 'OPTIONS', url: '/api/users', headers: preflightHeaders(origin, 'PUT') })
    assert.equal(res.statusCode, 204)
    assertGranted(res, origin, origin)
  }
})

test('with CROSS_SITE_COOKIES=true and COOKIE_SECURE=true the session cookie is SameSite=None; Secure', async (t) => {
  // Depends on src/plugins/app/auth.ts setting the cookie's SameSite from config.cookie.sameSite.
  const { app, user, password } = await setup(t, { CORS_ORIGINS: FRONT_END, CROSS_SITE_COOKIES: 'true', COOKIE_SECURE: 'true' })
  assert.equal(app.config.cookie.sameSite, 'none')
  const res = await app.inject({
    method: 'POST',
    url: '/api/authenticate',
    headers: { origin: FRONT_END, 'sec-fetch-site': 'cross-site', 'content-type': JSON_TYPE },
    payload: JSON.stringify({ uid: user.uid, password })
  })
  assert.equal(res.statusCode, 200, res.body)
  assertGranted(res, FRONT_END, 'POST /api/authenticate')
  const lines = setCookieLinesFor(res, '__Host-token')
  assert.equal(lines.length, 1)
  const attributes = lines[0].split(';').slice(1).map(a => a.trim().toLowerCase())
  assert.ok(attributes.includes('samesite=none'), `SameSite=None: ${lines[0]}`)
  assert.ok(attributes.includes('secure'), `Secure: ${lines[0]}`)
  assert.ok(attributes.includes('httponly'), `HttpOnly: ${lines[0]}`)
  assert.ok(attributes.includes('path=/'), `Path=/: ${lines[0]}`)
  assert.ok(!attributes.some(a => a.startsWith('domain=')), `no Domain: ${lines[0]}`)
})
