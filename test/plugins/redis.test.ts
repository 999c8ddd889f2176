/**
 * Several instances sharing Redis (REDIS_URL): revocations, rate limits and sign-in throttling
 * cross instances, and a Redis outage leaves the app serving, fail-safe. Runs on the real Redis
 * of the machine (TEST_REDIS_URL, default redis://127.0.0.1:6379), through a TCP proxy the test
 * can cut, as a network failure would.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import appPlugin, { serverOptions } from '../../src/app.ts'
import type { Config } from '../../src/config.ts'
import { INVALIDATION_CHANNEL } from '../../src/plugins/app/session-cache.ts'
import { freshDatabase, signIn } from '../helper.ts'
import { createAdmin, createUser } from '../factories.ts'

const REDIS = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379')
const BOUND_MS = 1000

/** A TCP proxy to Redis that can be cut (every connection dropped, nothing listening) and restored. */
async function redisProxy (t: TestContext) {
  const sockets = new Set<Socket>()
  let server: Server | null = null
  let port = 0
  const listen = () => new Promise<void>((resolve, reject) => {
    server = createServer((client) => {
      const upstream = connect(Number(REDIS.port || 6379), REDIS.hostname)
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
        s.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
    })
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      port = (server!.address() as { port: number }).port
      resolve()
    })
  })
  const cut = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server!.close(() => resolve())
  })
  await listen()
  t.after(async () => { if (server?.listening === true) await cut() })
  return { url: () => `redis://127.0.0.1:${port}`, cut, restore: listen }
}

/** Captures the app's log lines (level warn and above). */
function logSink () {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  return { lines, stream }
}

async function instance (t: TestContext, config: Config, log = logSink()): Promise<FastifyInstance> {
  const app = Fastify({ ...serverOptions(config), logger: { level: 'warn', stream: log.stream } })
  await app.register(fp(appPlugin), { config })
  await app.ready()
  t.after(() => app.close())
  return app
}

/** Two instances of the app on one database and one Redis (a fresh key prefix per test). */
async function twoInstances (t: TestContext, env: Record<string, string> = {}, redisUrl = REDIS.href) {
  const { config } = await freshDatabase({
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `test-${randomBytes(6).toString('hex')}:`,
    SESSION_CACHE_MS: '60000',
    ...env
  })
  const logs = logSink()
  const a = await instance(t, config, logs)
  const b = await instance(t, config)
  return { a, b, config, logs }
}

/** Waits until both instances are connected and subscribed (at start they wait at most 2 s for Redis). */
async function connected (...apps: FastifyInstance[]): Promise<void> {
  await within(10_000, 'connected to Redis', async () => apps.every(app => app.redis?.available === true && app.redis.subscribed))
}

/** Polls until `check` holds; returns the time it took, or fails after `ms`. */
async function within (ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const start = performance.now()
  for (;;) {
    if (await check()) return performance.now() - start
    if (performance.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const status = async (app: FastifyInstance, url: string, cookie?: string) =>
  (await app.inject({ url, headers: cookie === undefined ? {} : { cookie } })).statusCode

const jtiOf = (cookie: string): string =>
  JSON.parse(Buffer.from(cookie.split('=')[1].split('.')[1], 'base64url').toString()).jti

const authenticate = (app: FastifyInstance, uid: string, password: string) =>
  app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid, password } })

test('both instances connect and report Redis in /api/health', async (t) => {
  const { a, b } = await twoInstances(t)
  for (const app of [a, b]) {
    assert.ok(app.redis?.available, 'connected at start')
    await connected(app)
    const health = await app.inject({ url: '/api/health' })
    assert.equal(health.statusCode, 200)
    assert.deepEqual(health.json(), { status: 'ok', database: 'ok', redis: 'ok' })
  }
})

test(`a sign-out on one instance is refused by the other within ${BOUND_MS} ms, though its cache holds the session for 60 s`, async (t) => {
  const { a, b } = await twoInstances(t)
  await connected(a, b)
  const { user } = await createUser(a)
  const cookie = await signIn(a, user.id)
  assert.equal(await status(b, '/api/id', cookie), 200)
  assert.equal(b.sessionCache.size, 1, 'the other instance serves it from memory')
  assert.equal((await a.inject({ method: 'POST', url: '/api/logout', headers: { cookie } })).statusCode, 200)
  const ms = await within(BOUND_MS, 'the other instance refuses the signed-out cookie', async () => await status(b, '/api/id', cookie) === 401)
  t.diagnostic(`refused by the other instance after ${ms.toFixed(1)} ms`)
  assert.equal(await status(b, '/profile', cookie), 303)
})

test('"sign out everywhere else", a role change and a deletion on one instance reach the other', async (t) => {
  const { a, b } = await twoInstances(t)
  await connected(a, b)
  const { user } = await createUser(a)
  const mine = await signIn(a, user.id)
  const other = await signIn(a, user.id)
  assert.equal(await status(b, '/api/id', other), 200)
  assert.equal(await status(b, '/api/id', mine), 200)
  await a.sessionsRepository.revokeAllForUser(user.id, jtiOf(mine))
  await within(BOUND_MS, 'the other sessions of the user refused', async () => await status(b, '/api/id', other) === 401)
  assert.equal(await status(b, '/api/id', mine), 200, 'the one kept still works')

  const { user: admin } = await createAdmin(a)
  const adminCookie = await signIn(a, admin.id)
  assert.equal(await status(b, '/audit', adminCookie), 200)
  await a.usersRepository.update(admin.id, { role: 'User' })
  await within(BOUND_MS, 'the demoted admin refused the admin page', async () => await status(b, '/audit', adminCookie) === 403)
  await a.usersRepository.delete(admin.id)
  await within(BOUND_MS, 'the deleted user signed out', async () => await status(b, '/api/id', adminCookie) === 401)
})

test('the list of signed-in devices is cached, and a sign-in on another instance shows on this one', async (t) => {
  const { a, b } = await twoInstances(t)
  await connected(a, b)
  const { user, password } = await createUser(a)
  const cookie = await signIn(b, user.id)
  assert.equal((await b.sessionsRepository.listActiveForUser(user.id)).length, 1)
  // Behind the app's back: not seen while cached, which proves the list comes from memory.
  await b.prisma.session.updateMany({ where: { userId: user.id }, data: { userAgent: 'changed behind the cache' } })
  assert.notEqual((await b.sessionsRepository.listActiveForUser(user.id))[0].userAgent, 'changed behind the cache')
  assert.equal((await authenticate(a, user.uid, password)).statusCode, 200)
  await within(BOUND_MS, 'the new device listed on the other instance', async () => (await b.sessionsRepository.listActiveForUser(user.id)).length === 2)
  assert.equal(await status(b, '/profile', cookie), 200)
})

test('the per-IP limit on credential routes is one budget across instances (and across routes)', async (t) => {
  const { a, b } = await twoInstances(t, { LOGIN_RATE_LIMIT: '4' })
  await connected(a, b)
  const codes: number[] = []
  for (const app of [a, b, a, b]) codes.push((await authenticate(app, 'nobody', 'wrong-password')).statusCode)
  assert.deepEqual(codes, [401, 401, 401, 401])
  assert.equal((await authenticate(a, 'nobody', 'wrong-password')).statusCode, 429, 'the 5th attempt, on either instance')
  const form = await b.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' }, payload: 'uid=x&password=y' })
  assert.equal(form.statusCode, 429, 'the sign-in form shares the budget')
})

test('the per-account throttle counts failures from every instance', async (t) => {
  const { a, b } = await twoInstances(t, { LOGIN_ACCOUNT_FREE_ATTEMPTS: '3' })
  await connected(a, b)
  const { user, password } = await createUser(a)
  for (const app of [a, b, a]) assert.equal((await authenticate(app, user.uid, 'wrong-password')).statusCode, 401)
  const refused = await authenticate(b, user.uid, password)
  assert.equal(refused.statusCode, 429, 'the 4th attempt waits, even with the right password, on the other instance')
  assert.ok(Number(refused.headers['retry-after']) >= 1)
})

test('parallel attempts on two instances are all counted: only the free attempts get through', async (t) => {
  const { a, b } = await twoInstances(t, { LOGIN_ACCOUNT_FREE_ATTEMPTS: '4' })
  await connected(a, b)
  const verdicts = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).loginThrottle.attempt('burst-target')))
  assert.equal(verdicts.filter(v => v.allowed).length, 4)
})

test('Redis going away: the app keeps serving, says so, reads sessions from the database, and resumes when Redis is back', async (t) => {
  const proxy = await redisProxy(t)
  const { a, b, logs } = await twoInstances(t, { LOGIN_RATE_LIMIT: '3' }, proxy.url())
  await connected(a, b)
  const { user, password } = await createUser(a)
  const cookie = await signIn(a, user.id)
  assert.equal(await status(b, '/api/id', cookie), 200)

  await proxy.cut()
  for (const app of [a, b]) await within(2000, 'health reports the outage', async () => (await app.inject({ url: '/api/health' })).json().redis === 'unreachable')
  const health = await b.inject({ url: '/api/health' })
  assert.equal(health.statusCode, 200, 'still in rotation: it serves correctly without Redis')
  assert.deepEqual(health.json(), { status: 'degraded', database: 'ok', redis: 'unreachable' })
  assert.ok(logs.lines.some(l => l.level === 40 && /Redis is unreachable/.test(String(l.msg))), 'a warning in the log')
  assert.ok(!JSON.stringify(logs.lines).includes(proxy.url().split('//')[1] + '@'), 'no credentials logged')

  // Fail-safe: a revocation cannot reach the other instance's memory now, so it reads the database.
  assert.equal(await status(b, '/api/id', cookie), 200)
  assert.equal((await a.inject({ method: 'POST', url: '/api/logout', headers: { cookie } })).statusCode, 200)
  assert.equal(await status(b, '/api/id', cookie), 401, 'refused at once: nothing served from memory during the outage')

  // Sign-in works, and the per-IP limit still holds, per instance.
  assert.equal((await authenticate(b, user.uid, password)).statusCode, 200)
  for (let i = 0; i < 2; i++) assert.equal((await authenticate(b, user.uid, 'wrong-password')).statusCode, 401)
  assert.equal((await authenticate(b, user.uid, password)).statusCode, 429, 'limited in this process while Redis is away')
  const warnings = logs.lines.filter(l => l.level === 40).map(l => String(l.msg))
  assert.equal(warnings.filter(m => /Redis is unreachable/.test(m)).length, 1, `one warning for the outage, not one per connection or request: ${warnings.join(' | ')}`)
  // A publish can fail in the moment Redis is lost but not yet noticed; after that none is tried.
  assert.ok(warnings.filter(m => !/Redis is unreachable/.test(m)).length <= 1, `no warning per request: ${warnings.join(' | ')}`)

  await proxy.restore()
  await within(5000, 'health back to ok', async () => (await b.inject({ url: '/api/health' })).json().redis === 'ok')
  const again = await signIn(a, user.id)
  assert.equal(await status(b, '/api/id', again), 200)
  assert.equal(b.sessionCache.size, 1, 'the cache is used again')
  assert.equal((await a.inject({ method: 'POST', url: '/api/logout', headers: { cookie: again } })).statusCode, 200)
  await within(BOUND_MS, 'revocations cross instances again', async () => await status(b, '/api/id', again) === 401)
})

test('an app started while Redis is down starts anyway, degraded, and connects when Redis comes up', async (t) => {
  const proxy = await redisProxy(t)
  await proxy.cut()
  const started = performance.now()
  const { a } = await twoInstances(t, {}, proxy.url())
  assert.ok(performance.now() - started < 8000, 'it does not wait for Redis indefinitely')
  assert.equal((await a.inject({ url: '/api/health' })).json().status, 'degraded')
  assert.equal(await status(a, '/'), 200)
  await proxy.restore()
  await within(5000, 'connected once Redis is up', async () => (await a.inject({ url: '/api/health' })).json().redis === 'ok')
})

test('a malformed message on the invalidation channel is ignored; the app keeps serving', async (t) => {
  const { a, config } = await twoInstances(t)
  await connected(a)
  const { user } = await createUser(a)
  const cookie = await signIn(a, user.id)
  assert.equal(await status(a, '/api/id', cookie), 200)
  const raw = new Redis(REDIS.href)
  t.after(() => raw.quit())
  for (const junk of ['not json', '{"kind":"session"}', '{"kind":"user","userId":"1 OR 1=1"}', '[]', 'null']) {
    await raw.publish(config.redis!.keyPrefix + INVALIDATION_CHANNEL, junk)
  }
  await raw.publish(config.redis!.keyPrefix + INVALIDATION_CHANNEL, JSON.stringify({ kind: 'user', userId: user.id }))
  await within(BOUND_MS, 'the well-formed message applied', async () => a.sessionCache.size === 0)
  assert.equal(await status(a, '/api/id', cookie), 200)
})
