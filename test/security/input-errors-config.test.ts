/**
 * SECURITY.md section H: input handling and resource limits (S32–S34).
 *
 * SECURITY.md section I: errors, headers, configuration (S35–S37), and the "extra checks"
 * on logging (log injection, no passwords or tokens in logs).
 *
 * Not covered here: `npm audit` (needs the registry; run it in CI) and the 10 000-word offline
 * secret list (a short list of well-known secrets is tried instead).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { createRequire } from 'node:module'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { csrfFor, freshDatabase, signIn, submitForm } from '../helper.ts'
import { createUser } from '../factories.ts'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { deriveKey } from '../../src/lib/keys.ts'
import { forge } from './forge.ts'
import { assertAlive, assertNever, buildLogged, fullSnapshot, HS256, listen, payloadOf, setup, tokenOf } from './support.ts'

const srcDir = fileURLToPath(new URL('../../src', import.meta.url))

/** Sends a chunked body that keeps growing until the server answers; resolves with the status. */
function chunkedUpload (port: number, path: string, chunk: string, maxChunks: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    // The server may answer and close while we are still writing: that is the point.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err)
    })
    let sent = 0
    const pump = () => {
      if (req.destroyed) return
      if (sent++ >= maxChunks) return req.end()
      req.write(chunk, () => setImmediate(pump))
    }
    req.write('{"uid":"', () => setImmediate(pump))
  })
}

/** Writes raw bytes on a socket and returns everything the server sends until it closes. */
function rawExchange (port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()))
    socket.setTimeout(5000, () => socket.destroy())
    socket.end(bytes)
  })
}

/**
 * A user row whose date cannot be rendered. SQLite stores any text, so the row is really broken;
 * PostgreSQL refuses invalid dates, so there the repositories hand out the same broken value.
 */
async function corruptDob (t: TestContext, app: FastifyInstance, userId: number): Promise<void> {
  if (app.config.databaseUrl.startsWith('file:')) {
    await app.prisma.$executeRawUnsafe(`UPDATE "User" SET dob = 'not-a-date' WHERE id = ${userId}`)
    return
  }
  const broken = <T extends { id: number, dob: Date | null }>(user: T): T => user.id === userId ? { ...user, dob: new Date(Number.NaN) } : user
  const { findById, list } = app.usersRepository
  t.mock.method(app.usersRepository, 'findById', async (id: number) => { const u = await findById(id); return u === null ? null : broken(u) })
  t.mock.method(app.usersRepository, 'list', async () => (await list()).map(broken))
  // Signed-in pages render the user row loaded with the session.
  const { findActive } = app.sessionsRepository
  t.mock.method(app.sessionsRepository, 'findActive', async (id: string) => {
    const session = await findActive(id)
    return session === null ? null : { ...session, user: broken(session.user) }
  })
}

test('S32 oversized bodies are refused before they are read', async (t) => {
  const { app, user } = await setup(t)
  const cookie = await signIn(app, user.id)
  const port = await listen(app)

  await t.test('a 2 MiB sign-in form is refused with 413 and stores nothing', async () => {
    const before = await fullSnapshot(app)
    const res = await submitForm(app, '/login', { uid: user.uid, password: 'x'.repeat(2 * 1024 * 1024) })
    assert.equal(res.statusCode, 413)
    assertNever(app, res)
    assert.equal(await fullSnapshot(app), before)
  })

  await t.test('a 1.1 MiB JSON sign-up is refused with 413 and stores nothing', async () => {
    const before = await fullSnapshot(app)
    const res = await app.inject({ method: 'POST', url: '/api/users', payload: { uid: 'big-one', name: 'Big', password: 'big-password', hashmap: { blob: 'x'.repeat(1.1 * 1024 * 1024) } } })
    assert.equal(res.statusCode, 413)
    assertNever(app, res)
    assert.equal(await fullSnapshot(app), before)
  })

  await t.test('sign-in and API bodies have a per-route limit of 16 KiB (17 KiB is refused)', async () => {
    const payload = { uid: user.uid, password: 'x'.repeat(17 * 1024) }
    assert.equal((await app.inject({ method: 'POST', url: '/api/authenticate', payload })).statusCode, 413)
    assert.equal((await app.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: { cookie }, payload: { name: 'x'.repeat(17 * 1024) } })).statusCode, 413)
    assert.equal((await submitForm(app, '/profile', { name: 'x'.repeat(17 * 1024) }, { cookie })).statusCode, 413)
  })

  await t.test('a chunked upload without Content-Length is cut off at the limit with 413 (http)', async () => {
    const before = await fullSnapshot(app)
    const status = await chunkedUpload(port, '/api/users', 'x'.repeat(8 * 1024), 64)
    assert.equal(status, 413)
    assert.equal(await fullSnapshot(app), before)
    await assertAlive(app)
  })

  await t.test('a body longer than its Content-Length is refused with 400 (http)', async () => {
    const body = '{"uid":"aaaaaaaaaaaaaaaaaaaaaa"}'
    const answer = await rawExchange(port, `POST /api/authenticate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n${body}`)
    assert.match(answer, /^HTTP\/1\.1 400 /)
    assert.doesNotMatch(answer, /HTTP\/1\.1 (200|5\d\d) /)
    await assertAlive(app)
  })
})

test('S33 malformed bodies are refused with 4xx and the server keeps serving', async (t) => {
  const { app, user } = await setup(t)
  const cookie = await signIn(app, user.id)
  const json = { 'content-type': 'application/json' }

  await t.test('broken, empty and non-object JSON bodies are refused with 400', async () => {
    for (const url of ['/api/authenticate', '/api/users']) {
      for (const payload of ['{"uid":', '', 'null', '[]', '"s"', '1', 'true', '{"uid":"a",}', '\u0000']) {
        const res = await app.inject({ method: 'POST', url, headers: json, payload })
        assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}: ${res.body}`)
        assertNever(app, res)
      }
    }
  })

  await t.test('prototype-poisoning keys are refused with 400', async () => {
    for (const payload of ['{"uid":"a","password":"b","__proto__":{"role":"Admin"}}', '{"uid":"a","password":"b","constructor":{"prototype":{"role":"Admin"}}}']) {
      const res = await app.inject({ method: 'POST', url: '/api/authenticate', headers: json, payload })
      assert.equal(res.statusCode, 400, payload)
      assertNever(app, res)
    }
  })

  await t.test('broken percent-encoding in a form is a normal failure, not a crash', async () => {
    const form = await csrfFor(app)
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `uid=%E0%A4%A&password=%ZZ&_csrf=${encodeURIComponent(form.token)}`
    })
    assert.ok([400, 401].includes(res.statusCode), `${res.statusCode}`)
    assertNever(app, res)
  })

  await t.test('unsupported content types are refused with 415', async () => {
    for (const [url, headers] of [['/api/authenticate', {}], ['/api/users', {}], ['/login', {}], [`/api/users/${user.id}`, { cookie }]] as const) {
      const method = url.startsWith('/api/users/') ? 'PUT' : 'POST'
      const res = await app.inject({ method, url, headers: { ...headers, 'content-type': 'application/xml' }, payload: '<user><uid>a</uid></user>' })
      assert.equal(res.statusCode, 415, `${url}: ${res.statusCode}`)
      assertNever(app, res)
    }
  })

  await t.test('deeply nested JSON is refused (400 under the size limit, 413 above it) without a crash', async () => {
    const nested = (depth: number) => `{"uid":${'['.repeat(depth)}${']'.repeat(depth)},"password":"x"}`
    const small = await app.inject({ method: 'POST', url: '/api/authenticate', headers: json, payload: nested(8000) })
    assert.equal(small.statusCode, 400)
    const large = await app.inject({ method: 'POST', url: '/api/authenticate', headers: json, payload: nested(10_000) })
    assert.equal(large.statusCode, 413)
    // /api/logout takes no body and keeps Fastify's 1 MiB limit: the nesting is parsed and ignored.
    const logout = await app.inject({ method: 'POST', url: '/api/logout', headers: json, payload: `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}` })
    assert.ok(logout.statusCode < 500, `${logout.statusCode}`)
    for (const res of [small, large, logout]) assertNever(app, res)
    await assertAlive(app)
  })

  await t.test('a form with 50 000 keys is refused quickly and the server stays responsive', async () => {
    const form = await csrfFor(app)
    const manyKeys = Array.from({ length: 50_000 }, (_, i) => `k${i}=`).join('&')
    const start = Date.now()
    const [res, health] = await Promise.all([
      app.inject({ method: 'POST', url: '/login', headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: `${manyKeys}&_csrf=${encodeURIComponent(form.token)}` }),
      app.inject({ method: 'GET', url: '/api/health' })
    ])
    assert.equal(res.statusCode, 413)
    assert.equal(health.statusCode, 200)
    // Under the byte limit: 2 000 unknown keys are a schema error (400).
    const fewer = Array.from({ length: 2000 }, (_, i) => `k${i}=`).join('&')
    const res2 = await app.inject({ method: 'POST', url: '/login', headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: `uid=a&password=b&${fewer}&_csrf=${encodeURIComponent(form.token)}` })
    assert.equal(res2.statusCode, 400)
    assert.ok(Date.now() - start < 3000, 'refused quickly')
    await assertAlive(app)
  })
})

test('S34 no route renders a template chosen by the request', async (t) => {
  const { app } = await setup(t)

  await t.test('traversal paths answer 404 without rendering or naming files', async () => {
    for (const url of ['/page/..%2f..%2fpackage.json', '/page/../../etc/passwd', '/page/%2e%2e%2flayout', '/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd', '/views/layouts/main.eta', '/css/..%2f..%2fpackage.json']) {
      const res = await app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 404, url)
      assert.doesNotMatch(res.body, /"dependencies"|root:x:0:0|views directory|<%[=~]|\.eta/, url)
      assertNever(app, res)
    }
  })

  await t.test('every template name in the code is a fixed string', () => {
    for (const file of readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.ts') && !f.startsWith('generated'))) {
      const text = readFileSync(join(srcDir, file), 'utf8')
      for (const [, arg] of text.matchAll(/\.view(?:Async)?\(\s*([^,)]+)/g)) {
        assert.ok(/^'[a-z/0-9-]+'$/.test(arg) || /^`errors\/\$\{template\}`$/.test(arg), `${file}: view name ${arg}`)
      }
    }
  })
})

const projectRoot = fileURLToPath(new URL('../..', import.meta.url))
const GENERIC_500 = 'Something went wrong on our side. Please try again in a moment.'
/** Text that must never reach a client: library names, SQL, versions, internals. */
const INTERNALS = /prisma|sqlite|no such table|SELECT |INSERT |invocation|Invalid time value|node_modules|Fastify v?\d|Node\.js|\bat \S+ \(/i

function assertNoInternals (app: FastifyInstance, res: { statusCode: number, body: string, headers: Record<string, unknown> }) {
  assert.doesNotMatch(res.body, INTERNALS, res.body.slice(0, 300))
  assert.equal(res.headers['x-powered-by'], undefined)
  assert.ok(!res.body.includes(app.config.jwt.secret))
}

test('S35 error responses are generic and leak nothing', async (t) => {
  await t.test('unknown routes answer a 404 page, or JSON under /api', async (t) => {
    const { app } = await setup(t)
    const page = await app.inject({ method: 'GET', url: '/no/such/page' })
    assert.equal(page.statusCode, 404)
    assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8/)
    assert.match(page.body, /We could not find that page\./)
    const api = await app.inject({ method: 'GET', url: '/api/no/such/route' })
    assert.equal(api.statusCode, 404)
    assert.deepEqual(api.json(), { statusCode: 404, error: 'Not Found', message: 'No such API route.' })
    for (const res of [page, api]) assertNoInternals(app, res)
  })

  await t.test('a URL that cannot be decoded is our 400 (page or JSON) with the security headers, not the framework\'s JSON', async (t) => {
    const { app } = await setup(t)
    const message = 'That address is not valid: it has a % not followed by two hexadecimal digits, or bytes that are not UTF-8.'
    const page = await app.inject({ method: 'GET', url: '/users/%ZZ/delete', headers: { accept: 'text/html' } })
    assert.equal(page.statusCode, 400)
    assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8/)
    assert.ok(page.body.includes(message), page.body.slice(0, 300))
    const asked = await app.inject({ method: 'GET', url: '/%', headers: { accept: 'application/json' } })
    const api = await app.inject({ method: 'POST', url: '/api/users/%E0%A4%A', payload: {} })
    for (const res of [asked, api]) {
      assert.equal(res.statusCode, 400)
      assert.deepEqual(res.json(), { statusCode: 400, error: 'Bad Request', message })
    }
    const long = `/api/users/${'1'.repeat(201)}`
    const tooLong = await app.inject({ method: 'GET', url: long })
    const tooLongPage = await app.inject({ method: 'GET', url: `/users/%3Cscript%3E${'a'.repeat(201)}/delete` })
    assert.equal(tooLong.statusCode, 414)
    assert.deepEqual(tooLong.json(), { statusCode: 414, error: 'URI Too Long', message: 'That address is too long.' })
    assert.equal(tooLongPage.statusCode, 414)
    assert.match(tooLongPage.body, /That address is too long\./)
    for (const res of [page, asked, api, tooLong, tooLongPage]) {
      assertNoInternals(app, res)
      assert.doesNotMatch(res.body, /FST_|%ZZ|%E0|valid url component|<script|1111|max param/)
      assert.match(String(res.headers['content-security-policy']), /default-src 'self'/)
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.equal(res.headers['x-frame-options'], 'DENY')
      assert.equal(res.headers['cache-control'], 'no-store')
    }
    await assertAlive(app)
  })

  await t.test('a duplicate user id is a generic 409, not a database error', async (t) => {
    const { app, user } = await setup(t)
    const res = await app.inject({ method: 'POST', url: '/api/users', payload: { uid: user.uid, name: 'Twin', password: 'twin-password' } })
    assert.equal(res.statusCode, 409)
    assert.deepEqual(res.json(), { statusCode: 409, error: 'Conflict', message: 'That user id is already taken.' })
    assertNoInternals(app, res)
  })

  await t.test('a broken database gives a generic 500 page or JSON, and the error is logged with its request id', async (t) => {
    const { app, logs } = await buildLogged(t)
    const { user, password } = await createUser(app)
    const cookie = await signIn(app, user.id)
    await app.prisma.$executeRawUnsafe('DROP TABLE "Session"')
    const page = await app.inject({ method: 'GET', url: '/profile', headers: { cookie } })
    const api = await app.inject({ method: 'GET', url: '/api/id', headers: { cookie } })
    const login = await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: user.uid, password } })
    assert.equal(page.statusCode, 500)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.ok(page.body.includes(GENERIC_500))
    for (const res of [api, login]) {
      assert.equal(res.statusCode, 500)
      assert.deepEqual(res.json(), { statusCode: 500, error: 'Internal Server Error', message: GENERIC_500 })
    }
    for (const res of [page, api, login]) assertNoInternals(app, res)
    const errors = logs.map(l => JSON.parse(l) as { level: number, reqId?: string, msg?: string, err?: { message?: string } }).filter(l => l.level >= 50)
    assert.ok(errors.length >= 3, 'each failure is logged')
    assert.ok(errors.every(e => typeof e.reqId === 'string' && e.reqId.length > 0), 'with a request id')
    assert.ok(errors.some(e => /Session/.test(e.err?.message ?? '')), 'with the real cause, server-side')
  })

  await t.test('a row the template cannot render (invalid date) gives a generic 500, not a RangeError', async (t) => {
    const { app, user } = await setup(t)
    const cookie = await signIn(app, user.id)
    await corruptDob(t, app, user.id)
    const page = await app.inject({ method: 'GET', url: '/profile', headers: { cookie } })
    const api = await app.inject({ method: 'GET', url: '/api/users', headers: { cookie } })
    assert.equal(page.statusCode, 500)
    assert.equal(api.statusCode, 500)
    assert.deepEqual(api.json(), { statusCode: 500, error: 'Internal Server Error', message: GENERIC_500 })
    for (const res of [page, api]) assertNoInternals(app, res)
    await assertAlive(app)
  })
})

/** Runs the real entry point (src/server.ts) with `env`; resolves on exit or once it listens. */
function startServer (env: Record<string, string>): Promise<{ code: number | null, output: string, port?: number, pid?: number }> {
  return new Promise((resolve, reject) => {
    // Through the tsx CLI, as `npm run dev` does (@fastify/autoload then loads .ts plugins).
    const child = spawn(process.execPath, [fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url)), 'src/server.ts'], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    const timer = setTimeout(() => { child.kill(); reject(new Error(`server did not start or exit: ${output}`)) }, 15_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const port = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]
      if (port !== undefined) {
        clearTimeout(timer)
        resolve({ code: null, output, port: Number(port), pid: child.pid })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

test('S36 weak or default secrets stop a production start', async (t) => {
  const base = { NODE_ENV: 'production', INSTANCE_DIR: projectRoot + 'instance' }
  const weak: Record<string, string | undefined> = {
    unset: undefined,
    'the empty string': '',
    '"secret"': 'secret',
    '"changeme"': 'changeme',
    '"your-256-bit-secret"': 'your-256-bit-secret',
    '16 random characters': randomBytes(12).toString('base64url'),
    '40 characters with little variety': 'ab'.repeat(20),
    '"changeme" padded with spaces': '   changeme   '
  }
  for (const [name, secret] of Object.entries(weak)) {
    await t.test(`JWT_SECRET ${name} is refused by the configuration`, () => {
      const env: Record<string, string> = { ...base }
      if (secret !== undefined) env.JWT_SECRET = secret
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && /JWT_SECRET/.test(err.message))
    })
  }

  await t.test('a 32-byte random secret is accepted', () => {
    const config = loadConfig({ ...base, JWT_SECRET: randomBytes(32).toString('base64url') })
    assert.equal(config.env, 'production')
    assert.equal(config.cookie.secure, true)
  })

  await t.test('the real server (src/server.ts) exits non-zero with a clear message and never listens on a weak secret', async () => {
    // The strong-secret start, SIGTERM and log redaction of the real process are covered by test/server.test.ts.
    const { file } = await freshDatabase()
    const run = await startServer({ ...base, JWT_SECRET: 'changeme', DATABASE_URL: `file:${file}` })
    assert.equal(run.code, 1, run.output)
    assert.match(run.output, /JWT_SECRET is too weak/)
    assert.doesNotMatch(run.output, /listening/i)
    assert.equal(run.port, undefined)
  })

  await t.test('no well-known secret reproduces the signature of a real token (offline guess)', async (t) => {
    const { app, user } = await setup(t)
    const token = tokenOf(await signIn(app, user.id))
    const payload = payloadOf(token)
    const guesses = [
      'secret', 'changeme', 'change-me', 'your-256-bit-secret', 'jwt-secret', 'jwt_secret', 'supersecret', 'password',
      'development', 'test', 'replace-me', 'replace-with-a-long-random-secret', '', 'key', 'private', 'shhhhh', 'secretkey',
      'mysecret', 'my-secret', 'admin', '123456', 'fastify', 'fastify-portfolio', 'token', 'jwt', 'default', 'hello',
      'qwerty', 'letmein', 'abc123', 'SECRET_KEY', 'JWT_SECRET', 'your_jwt_secret', 'super-secret-key', 'dev-secret'
    ]
    for (const guess of guesses) {
      assert.notEqual(forge(HS256, payload, guess), token, `the app key is "${guess}"`)
    }
  })

  await t.test('cookie signing and CSRF keys are derived per purpose, distinct from the JWT secret', async (t) => {
    const { app } = await setup(t)
    const secret = app.config.jwt.secret
    const keys = [secret, deriveKey(secret, 'cookie-signing'), deriveKey(secret, 'csrf-hmac')]
    assert.equal(new Set(keys).size, 3)
    // The flash/CSRF cookie signature is not made with the raw JWT secret.
    const signed = app.signCookie('probe')
    const withRaw = 'probe.' + createHmac('sha256', secret).update('probe').digest('base64').replace(/=+$/, '')
    assert.notEqual(signed, withRaw)
  })

  await t.test('.env files are ignored by git and the sample holds no secret', () => {
    const ignored = readFileSync(new URL('../../.gitignore', import.meta.url), 'utf8').split('\n').map(l => l.trim())
    assert.ok(ignored.includes('.env'))
    let sample = ''
    try {
      sample = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
    } catch {}
    const value = /^\s*JWT_SECRET=(\S+)/m.exec(sample)?.[1]
    if (value !== undefined) assert.throws(() => loadConfig({ ...base, JWT_SECRET: value }), ConfigError)
  })
})

test('S37 security headers are sent and dependencies meet the floor', async (t) => {
  const { app, user, admin } = await setup(t, { COOKIE_SECURE: 'true' })
  const userCookie = await signIn(app, user.id)
  const adminCookie = await signIn(app, admin.id)
  const { user: broken } = await createUser(app)
  const brokenCookie = await signIn(app, broken.id)
  await corruptDob(t, app, broken.id)

  const html: Array<[string, string, string | undefined, number]> = [
    ['/login', '/login', undefined, 200],
    ['an authenticated page', '/profile', userCookie, 200],
    ['an Admin page', `/users/${user.id}/delete`, adminCookie, 200],
    ['a 404 page', '/nope', undefined, 404],
    ['a 500 page', '/profile', brokenCookie, 500]
  ]
  for (const [name, url, cookie, status] of html) {
    await t.test(`${name} carries the full header set`, async () => {
      const res = await app.inject({ method: 'GET', url, headers: cookie === undefined ? {} : { cookie } })
      assert.equal(res.statusCode, status)
      const csp = new Map(String(res.headers['content-security-policy']).split(';').map(d => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(' ')]))
      assert.equal(csp.get('object-src'), "'none'")
      assert.equal(csp.get('base-uri'), "'none'")
      assert.equal(csp.get('frame-ancestors'), "'none'")
      assert.equal(csp.get('form-action'), "'self'")
      assert.ok(!(csp.get('script-src') ?? '').includes('unsafe-inline'))
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.match(String(res.headers['referrer-policy']), /^(strict-origin-when-cross-origin|strict-origin|same-origin|no-referrer)$/)
      const hsts = /max-age=(\d+)/.exec(String(res.headers['strict-transport-security']))
      assert.ok(hsts !== null && Number(hsts[1]) >= 31536000, 'HSTS max-age >= 1 year')
      assert.match(String(res.headers['strict-transport-security']), /includeSubDomains/)
      assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin')
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
      assert.equal(res.headers['x-powered-by'], undefined)
      assert.equal(res.headers.server, undefined)
      if (cookie !== undefined) assert.match(String(res.headers['cache-control']), /no-store/)
    })
  }

  await t.test('API responses are no-store JSON with nosniff, signed in or not', async () => {
    for (const [url, cookie] of [['/api/id', userCookie], ['/api/id', undefined], ['/api/health', undefined], ['/api/nope', undefined]] as const) {
      const res = await app.inject({ method: 'GET', url, headers: cookie === undefined ? {} : { cookie } })
      assert.match(String(res.headers['cache-control']), /no-store/, url)
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8', url)
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
    }
  })

  await t.test('static files are sent with nosniff and no version banner', async () => {
    const res = await app.inject({ method: 'GET', url: '/css/app.css' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.match(String(res.headers['content-type']), /^text\/css/)
    assert.equal(res.headers['x-powered-by'], undefined)
  })

  await t.test('installed versions meet the floor (fastify, fast-jwt, @fastify/jwt, @fastify/static, @fastify/csrf-protection, eta)', () => {
    const require = createRequire(new URL('../../package.json', import.meta.url))
    const jwtRequire = createRequire(require.resolve('@fastify/jwt'))
    const versionOf = (req: NodeJS.Require, name: string) => {
      const pkg = req.resolve(`${name}/package.json`)
      return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version
    }
    const atLeast = (version: string, floor: string) => {
      const [a, b] = [version, floor].map(v => v.split('-')[0].split('.').map(Number))
      for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i]
      return true
    }
    const floors: Array<[NodeJS.Require, string, string]> = [
      [require, 'fastify', '5.8.5'],
      [jwtRequire, 'fast-jwt', '6.3.1'], // the copy @fastify/jwt actually loads
      [require, '@fastify/jwt', '10.2.0'],
      [require, '@fastify/static', '10.1.2'],
      [require, '@fastify/csrf-protection', '6.3.0'],
      [require, 'eta', '2.0.0']
    ]
    for (const [req, name, floor] of floors) {
      const version = versionOf(req, name)
      assert.ok(atLeast(version, floor), `${name} ${version} < ${floor}`)
    }
  })

  await t.test('token verification uses plain-string issuer/audience and no custom cache key builder', () => {
    const verify = app.jwt.options.verify as Record<string, unknown>
    assert.equal(typeof verify.allowedIss, 'string')
    assert.equal(typeof verify.allowedAud, 'string')
    assert.equal(verify.cacheKeyBuilder, undefined)
    const jwtPlugin = readFileSync(new URL('../../src/plugins/external/jwt.ts', import.meta.url), 'utf8')
    assert.doesNotMatch(jwtPlugin, /cacheKeyBuilder|\/[gy]{1,2}\b,?\s*$/m)
  })
})

test('logs escape hostile input and never hold passwords or tokens', async (t) => {
  const { app, logs } = await buildLogged(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const password = 'hunter2-very-secret-pw'
  const hostileUid = 'evil\r\n{"level":30,"msg":"signed in"}\u001b[31mRED'

  await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: hostileUid, password } })
  await app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid: user.uid, password }, headers: { cookie } })
  await app.inject({ method: 'GET', url: '/api/id', headers: { cookie, authorization: `Bearer ${tokenOf(cookie)}` } })
  // A token or CSRF token put in a link (the app never reads them there) is not logged either:
  // in the query, in the path, and in the route parameters of a rejected request.
  const csrf = await csrfFor(app, cookie, '/profile')
  const inUrls = [
    `/api/id?access_token=${tokenOf(cookie)}`,
    `/profile?token=${tokenOf(cookie)}&x=1`,
    `/users/${tokenOf(cookie)}/delete`,
    `/api/users/${tokenOf(cookie)}`,
    `/login?_csrf=${encodeURIComponent(csrf.token)}`
  ]
  for (const url of inUrls) await app.inject({ method: 'GET', url, headers: { cookie } })

  await t.test('every log entry is one line of JSON, with control characters escaped', () => {
    const text = logs.join('')
    assert.ok(logs.length > 3)
    for (const line of text.split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), line)
    assert.ok(!text.includes('\r') && !text.includes('\u001b'), 'no raw CR or ESC')
    const failed = logs.map(l => JSON.parse(l) as { msg?: string, uid?: string }).find(l => l.msg === 'sign-in failed' && l.uid === hostileUid)
    assert.ok(failed !== undefined, 'the hostile id is logged as data')
  })

  await t.test('no password, token or cookie appears in the logs', () => {
    const text = logs.join('')
    assert.ok(!text.includes(password))
    assert.ok(!text.includes(tokenOf(cookie)))
    assert.ok(!text.includes(tokenOf(cookie).split('.')[2]), 'not even the signature part')
    assert.ok(!text.includes(csrf.token) && !text.includes(encodeURIComponent(csrf.token)), 'no CSRF token')
    assert.ok(!text.includes(app.config.jwt.secret))
    // The requests themselves are still logged, with the credential replaced.
    assert.ok(logs.some(l => l.includes('access_token=[redacted]')), 'the URL is logged, redacted')
  })
})
