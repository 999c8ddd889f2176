import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { loadConfig } from '../../src/config.ts'
import { serverOptions } from '../../src/app.ts'
import { loggerOptions, requestLogger } from '../../src/lib/logger.ts'
import { TEST_SECRET } from '../helper.ts'

/**
 * A server with the app's logger options and request logger factory, writing into an array,
 * and a count of the pino children it makes.
 */
async function server (t: TestContext, level: string) {
  const lines: Array<Record<string, unknown>> = []
  let children = 0
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET }, { dotenv: false })
  const app = Fastify({
    logger: { ...loggerOptions(config), level, stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } },
    childLoggerFactory (parent: FastifyBaseLogger, bindings, options) {
      const counted = Object.create(parent) as FastifyBaseLogger
      counted.child = (b, o) => { children++; return parent.child(b, o) }
      return requestLogger(counted, bindings, options)
    }
  })
  app.get('/quiet', async () => ({ ok: true }))
  app.get('/warn', async (request) => {
    request.log.warn({ user: { password: 'hunter2' }, detail: 'x' }, 'first')
    request.log.warn('second')
    request.log.debug('below the level')
    return { ok: true }
  })
  app.get('/info', async (request) => { request.log.info('at info'); return { ok: true } })
  app.get('/debug-route', { logLevel: 'debug' }, async (request) => { request.log.debug('route debug'); return { ok: true } })
  app.get('/child', async (request) => { request.log.child({ job: 'export' }).warn('from a child'); return { ok: true } })
  app.get('/severe', async (request) => { request.log.error('an error'); request.log.fatal('a fatal'); return { ok: true } })
  app.get('/serialized', { logSerializers: { user: (user: { id: number }) => `user #${user.id}` } }, async (request) => {
    request.log.warn({ user: { id: 7, name: 'x' } }, 'with a route serializer')
    return { ok: true }
  })
  app.get('/unbound', async (request) => {
    const { debug, warn } = request.log
    debug('unbound below the level')
    warn('unbound at the level')
    return { ok: true }
  })
  await app.ready()
  t.after(() => app.close())
  return { app, lines, children: () => children }
}

test('a request that logs nothing at the level makes no pino child', async (t) => {
  const { app, lines, children } = await server(t, 'warn')
  for (const url of ['/quiet', '/info', '/quiet']) assert.equal((await app.inject({ url })).statusCode, 200)
  assert.equal(children(), 0)
  assert.deepEqual(lines, [])
})

test('a request that logs at the level writes with its request id, redacted, from one child', async (t) => {
  const { app, lines, children } = await server(t, 'warn')
  const res = await app.inject({ url: '/warn' })
  assert.equal(res.statusCode, 200)
  assert.equal(children(), 1)
  assert.deepEqual(lines.map(line => line.msg), ['first', 'second'])
  const [first, second] = lines
  assert.equal(typeof first?.reqId, 'string')
  assert.equal(second?.reqId, first?.reqId)
  assert.deepEqual(first?.user, { password: '[redacted]' })
  assert.equal(first?.detail, 'x')
  assert.equal(first?.level, 40)
})

test('at info the request lines Fastify writes carry each request id', async (t) => {
  const { app, lines } = await server(t, 'info')
  await app.inject({ url: '/info' })
  await app.inject({ url: '/quiet' })
  const messages = lines.map(line => `${String(line.reqId)} ${String(line.msg)}`)
  assert.deepEqual(messages, [
    'req-1 incoming request', 'req-1 at info', 'req-1 request completed',
    'req-2 incoming request', 'req-2 request completed'
  ])
})

test("the parent's level is read at each call, and a route's own level applies to its requests", async (t) => {
  const { app, lines } = await server(t, 'warn')
  await app.inject({ url: '/debug-route' })
  // Its own debug line, and Fastify's info lines for it (the route's level is below info).
  assert.deepEqual(lines.map(line => line.msg), ['incoming request', 'route debug', 'request completed'])
  lines.length = 0
  app.log.level = 'info'
  await app.inject({ url: '/info' })
  assert.ok(lines.some(line => line.msg === 'at info'), JSON.stringify(lines))
})

test('a child of a request logger keeps the request id and adds its bindings', async (t) => {
  const { app, lines } = await server(t, 'warn')
  await app.inject({ url: '/child' })
  assert.equal(lines.length, 1)
  assert.equal(lines[0]?.msg, 'from a child')
  assert.equal(lines[0]?.job, 'export')
  assert.equal(typeof lines[0]?.reqId, 'string')
})

test('every level method writes at its own level', async (t) => {
  const { app, lines } = await server(t, 'warn')
  await app.inject({ url: '/severe' })
  assert.deepEqual(lines.map(line => [line.level, line.msg]), [[50, 'an error'], [60, 'a fatal']])
})

test("a route's own serializers apply to its request logger", async (t) => {
  const { app, lines } = await server(t, 'warn')
  await app.inject({ url: '/serialized' })
  assert.equal(lines.length, 1)
  assert.equal(lines[0]?.user, 'user #7')
})

test('a level method taken off the logger does nothing instead of failing the request', async (t) => {
  const { app, lines } = await server(t, 'warn')
  const res = await app.inject({ url: '/unbound' })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(lines, [])
})

test('one request logger follows a change of the parent level made after it was created', async (t) => {
  const { app, lines } = await server(t, 'warn')
  const logger = requestLogger(app.log, { reqId: 'r1' }, {})
  logger.info('before')
  app.log.level = 'info'
  logger.info('after')
  app.log.level = 'error'
  logger.warn('raised again')
  assert.deepEqual(lines.map(line => [line.reqId, line.msg]), [['r1', 'after']])
})

test('setting the level of a request logger applies to its next calls', async (t) => {
  const { app, lines } = await server(t, 'warn')
  const logger = requestLogger(app.log, { reqId: 'r2' }, {})
  logger.level = 'debug'
  assert.equal(logger.level, 'debug')
  logger.debug('now written')
  logger.trace('still below')
  assert.deepEqual(lines.map(line => line.msg), ['now written'])
  assert.equal(app.log.level, 'warn')
})

test("the app's server options make every request's logger this way", () => {
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET }, { dotenv: false })
  assert.equal(serverOptions(config).childLoggerFactory, requestLogger)
})

test('the level property follows the route and the parent', async (t) => {
  const { app } = await server(t, 'warn')
  const logger = requestLogger(app.log, { reqId: 'r' }, {})
  assert.equal(logger.level, 'warn')
  app.log.level = 'error'
  assert.equal(logger.level, 'error')
  assert.equal(requestLogger(app.log, { reqId: 'r' }, { level: 'debug' }).level, 'debug')
})

test('a request Node cannot parse is logged without its raw bytes (cookies, Authorization) at trace', async (t) => {
  const { app, lines } = await server(t, 'trace')
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const socket = connect(port, '127.0.0.1')
  socket.end('GET / HTTP/1.1\r\nHost: x\r\nCookie: token=SECRETCOOKIE\r\nAuthorization: Bearer SECRETAUTH\r\nBad Header\r\n\r\n')
  socket.resume()
  await once(socket, 'close')
  const clientError = lines.find(line => line.msg === 'client error') as { err?: { rawPacket?: unknown } } | undefined
  assert.ok(clientError !== undefined, JSON.stringify(lines.map(line => line.msg)))
  assert.equal(clientError.err?.rawPacket, '[redacted]')
  const text = JSON.stringify(lines)
  for (const secret of ['SECRETCOOKIE', 'SECRETAUTH']) {
    assert.ok(!text.includes(secret) && !text.includes(JSON.stringify([...Buffer.from(secret)]).slice(1, -1)), secret)
  }
})
