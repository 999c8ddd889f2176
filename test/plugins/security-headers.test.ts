import assert from 'node:assert/strict'
import { test } from 'node:test'
import fastifyHelmet from '@fastify/helmet'
import Fastify from 'fastify'
import { autoConfig, securityHeaders } from '../../src/plugins/external/helmet.ts'
import { build, signIn } from '../helper.ts'
import { createUser } from '../factories.ts'
import type { FastifyInstance } from 'fastify'

const HEADER_NAMES = Object.keys(securityHeaders({}))

/** What @fastify/helmet (helmet run per request) sends for the same options. */
async function perRequestHelmet (secure: boolean): Promise<Record<string, unknown>> {
  const app = Fastify()
  await app.register(fastifyHelmet, autoConfig({ config: { cookie: { secure } } } as unknown as FastifyInstance) as never)
  app.get('/', async () => 'ok')
  const res = await app.inject({ url: '/' })
  await app.close()
  return Object.fromEntries(Object.entries(res.headers).filter(([name]) => HEADER_NAMES.includes(name) || name === 'strict-transport-security'))
}

for (const secure of [false, true]) {
  test(`the headers computed once equal helmet's per-request ones (secure cookies: ${secure})`, async () => {
    const once = securityHeaders(autoConfig({ config: { cookie: { secure } } } as unknown as FastifyInstance))
    assert.deepEqual(once, await perRequestHelmet(secure))
    assert.match(once['content-security-policy'], /frame-ancestors 'none'/)
    assert.equal('strict-transport-security' in once, secure)
  })
}

test('every kind of response carries them: page, signed-in page, API, static file, 404', async (t) => {
  const app = await build(t)
  const expected = securityHeaders(autoConfig(app))
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  for (const [url, headers] of [['/', {}], ['/profile', { cookie }], ['/api/id', { cookie }], ['/css/app.css', {}], ['/no-such-page', {}]] as const) {
    const res = await app.inject({ url, headers })
    for (const [name, value] of Object.entries(expected)) assert.equal(res.headers[name], value, `${name} on ${url}`)
  }
})
