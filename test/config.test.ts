import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ConfigError, loadConfig, secretWeakness } from '../src/config.ts'

const strong = () => randomBytes(48).toString('base64url')

test('production refuses a missing, empty or weak JWT_SECRET with a clear message', () => {
  const typed = [
    '0123456789012345678901234567890123456789', // a shorter text repeated
    'your-256-bit-secretyour-256-bit-secret',
    `${strong().slice(0, 20)}`.repeat(2),
    'abcdefghijklmnopqrstuvwxyz012345', // runs of consecutive characters
    'zyxwvutsrqponmlkjihgfedcba9876543210',
    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij'
  ]
  for (const secret of [undefined, '', 'secret', 'changeme', 'your-256-bit-secret', randomBytes(8).toString('hex'), 'a'.repeat(64), ...typed]) {
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production', ...(secret === undefined ? {} : { JWT_SECRET: secret }) }),
      (err: Error) => err instanceof ConfigError && /JWT_SECRET/.test(err.message),
      String(secret)
    )
  }
})

test('random secrets of every usual shape pass the weakness checks (no false refusals)', () => {
  for (let i = 0; i < 2000; i++) {
    for (const secret of [randomBytes(48).toString('base64url'), randomBytes(32).toString('hex'), randomBytes(24).toString('base64')]) {
      assert.equal(secretWeakness(secret), null, secret)
    }
  }
})

test('production accepts a strong secret and defaults to Secure __Host- cookies, no migrations, no seeding', () => {
  const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: strong() })
  assert.equal(config.cookie.secure, true)
  assert.equal(config.cookie.name, '__Host-token')
  assert.equal(config.migrateOnStart, false)
  assert.equal(config.seedDemoUsers, false)
})

test('development generates a secret once into instance/ with mode 0600 and reuses it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const first = loadConfig({ INSTANCE_DIR: dir })
  const file = join(dir, 'secrets', 'jwt-secret')
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.equal(readFileSync(file, 'utf8').trim(), first.jwt.secret)
  assert.equal(secretWeakness(first.jwt.secret), null)
  assert.equal(loadConfig({ INSTANCE_DIR: dir }).jwt.secret, first.jwt.secret)
  assert.equal(first.cookie.name, 'token')
  assert.equal(first.migrateOnStart, true)
  assert.equal(first.seedDemoUsers, true)
})

test('invalid values are reported by variable name', () => {
  assert.throws(() => loadConfig({ JWT_SECRET: strong(), PORT: 'eighty' }), /PORT/)
  assert.throws(() => loadConfig({ JWT_SECRET: strong(), CORS_ORIGINS: 'not a url' }), /CORS_ORIGINS/)
  assert.throws(() => loadConfig({ JWT_SECRET: strong(), JWT_TTL: '5' }), /JWT_TTL/)
})

test('lists and proxies are parsed', () => {
  const config = loadConfig({ JWT_SECRET: strong(), CORS_ORIGINS: 'https://a.example, http://localhost:5173/', TRUST_PROXY: '1' })
  assert.deepEqual(config.corsOrigins, ['https://a.example', 'http://localhost:5173'])
  assert.equal(config.trustProxy, 1)
})

test('reads only the environment it is given', () => {
  process.env.SIGNUP_ENABLED = 'false'
  try {
    assert.equal(loadConfig({ JWT_SECRET: strong() }).signupEnabled, true)
  } finally {
    delete process.env.SIGNUP_ENABLED
  }
})

test('REDIS_URL: optional, redis:// or rediss:// only, with a key prefix', () => {
  assert.equal(loadConfig({ NODE_ENV: 'test', JWT_SECRET: strong() }).redis, null)
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: strong(), REDIS_URL: 'rediss://user:pw@cache.internal:6380/2' })
  assert.deepEqual(config.redis, { url: 'rediss://user:pw@cache.internal:6380/2', keyPrefix: 'fastify-portfolio:' })
  for (const url of ['localhost:6379', 'http://redis:6379', 'not a url', 'redis://']) {
    assert.throws(() => loadConfig({ NODE_ENV: 'test', JWT_SECRET: strong(), REDIS_URL: url }), (err: Error) => err instanceof ConfigError && /REDIS_URL/.test(err.message), url)
  }
  assert.throws(() => loadConfig({ NODE_ENV: 'test', JWT_SECRET: strong(), REDIS_URL: 'redis://r', REDIS_KEY_PREFIX: 'has spaces' }), /REDIS_KEY_PREFIX/)
})

test('TRUST_PROXY: addresses, subnets and range names are accepted; anything else stops the start with the variable name', () => {
  const load = (value: string) => loadConfig({ NODE_ENV: 'test', JWT_SECRET: strong(), TRUST_PROXY: value }).trustProxy
  assert.equal(load('10.0.0.2, 172.29.57.0/24,loopback,::1,fd00::/8,10.0.0.0/255.0.0.0'), '10.0.0.2, 172.29.57.0/24,loopback,::1,fd00::/8,10.0.0.0/255.0.0.0')
  assert.equal(load('2'), 2)
  for (const bad of ['banana', '10.0.0.0/33', '10.0.0.1/8/8', '127.0.0.1, nope', '::1/129', '10.0.0.0/ffff::']) {
    assert.throws(() => load(bad), (err: Error) => err instanceof ConfigError && /TRUST_PROXY/.test(err.message), bad)
  }
})
