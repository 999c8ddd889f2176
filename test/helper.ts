import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'
import app, { serverOptions } from '../src/app.ts'
import { loadConfig, type Config } from '../src/config.ts'
import { migrate } from '../src/db/migrator.ts'

// Tests run TypeScript through `node --import tsx`, which @fastify/autoload cannot detect by
// itself; this tells it to load the .ts plugin files.
process.env.FASTIFY_AUTOLOAD_TYPESCRIPT ??= '1'

/** A strong, per-run secret: tests never use a fixed one. */
export const TEST_SECRET = randomBytes(48).toString('base64url')

// One migrated database per test process, copied for every app built (as the Epic Stack does).
const workDir = mkdtempSync(join(tmpdir(), 'fastify-portfolio-test-'))
const baseDb = join(workDir, 'base.db')
let migrated: Promise<unknown> | undefined
let counter = 0
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }))

/** Environment for tests: cheap hashing, silent logs, generous throttling unless a test lowers it. */
export function testEnv (overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET: TEST_SECRET,
    INSTANCE_DIR: workDir,
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_ITERATIONS: '1',
    LOGIN_RATE_LIMIT: '1000',
    ...overrides
  }
}

/** A fresh database file (a copy of the migrated base) and a config pointing at it. */
export async function freshDatabase (overrides: Record<string, string> = {}): Promise<{ config: Config, file: string }> {
  migrated ??= migrate(`file:${baseDb}`)
  await migrated
  const file = join(workDir, `test-${process.pid}-${++counter}.db`)
  copyFileSync(baseDb, file)
  return { config: loadConfig(testEnv({ DATABASE_URL: `file:${file}`, ...overrides })), file }
}

/**
 * Builds the app exactly as server.ts does (same factory options), on its own database,
 * and closes it after the test. `env` overrides configuration variables.
 */
export async function build (t: TestContext, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const { config, file } = await freshDatabase(env)
  const fastify = Fastify({ ...serverOptions(config), logger: false })
  await fastify.register(fp(app), { config })
  await fastify.ready()
  t.after(async () => {
    await fastify.close()
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })
  })
  return fastify
}

/** A signed-in session for `userId` without the login form: a Session row and its cookie (`name=value`). */
export async function signIn (fastify: FastifyInstance, userId: number): Promise<string> {
  const session = await fastify.sessionsRepository.create({ userId, userAgent: 'test', ip: '127.0.0.1' })
  const token = fastify.jwt.sign({ sub: String(userId), jti: session.id })
  return `${fastify.config.cookie.name}=${token}`
}

/** Cookies a response set, as a `Cookie` header value (values only; expired ones dropped). */
export function cookiesFrom (res: LightMyRequestResponse): string {
  return res.cookies
    .filter(c => c.maxAge !== 0 && c.value !== '')
    .map(c => `${c.name}=${c.value}`)
    .join('; ')
}

/** Merges cookie header strings; later values win. */
export function mergeCookies (...headers: Array<string | undefined>): string {
  const jar = new Map<string, string>()
  for (const header of headers) {
    for (const part of (header ?? '').split(';')) {
      const [name, ...rest] = part.trim().split('=')
      if (name) jar.set(name, rest.join('='))
    }
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
}

/**
 * A page's CSRF token and the cookies that go with it, as a browser would have them
 * after loading `url` (optionally while signed in with `cookie`).
 */
export async function csrfFor (fastify: FastifyInstance, cookie?: string, url = '/login'): Promise<{ token: string, cookie: string }> {
  const res = await fastify.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} })
  const match = /name="_csrf" value="([^"]+)"/.exec(res.body)
  if (match === null) throw new Error(`no CSRF token on ${url} (status ${res.statusCode})`)
  return { token: match[1], cookie: mergeCookies(cookie, cookiesFrom(res)) }
}

/** POSTs an HTML form with a valid CSRF token, as a browser on this site would. */
export async function submitForm (fastify: FastifyInstance, url: string, fields: Record<string, string>, options: { cookie?: string, page?: string } = {}) {
  const { token, cookie } = await csrfFor(fastify, options.cookie, options.page ?? (options.cookie ? '/profile' : '/login'))
  return fastify.inject({
    method: 'POST',
    url,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ ...fields, _csrf: token }).toString()
  })
}
