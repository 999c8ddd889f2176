import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'
import app, { serverOptions } from '../src/app.ts'
import { loadConfig, type Config } from '../src/config.ts'
import pg from 'pg'
import { isPostgresUrl, migrate, postgresDatabaseUrl, postgresPoolConfig, quoteIdent } from '../src/db/migrator.ts'

// Tests run TypeScript through `node --import tsx`, which @fastify/autoload cannot detect by
// itself; this tells it to load the .ts plugin files.
process.env.FASTIFY_AUTOLOAD_TYPESCRIPT ??= '1'

/** A strong, per-run secret: tests never use a fixed one. */
export const TEST_SECRET = randomBytes(48).toString('base64url')

// One migrated database per test process, copied for every app built (as the Epic Stack does).
// SQLite (the default): a migrated file, copied. PostgreSQL (DATABASE_URL=postgres://... in the
// environment, as `npm run test:pg` sets it): a migrated template database, and a
// `CREATE DATABASE ... TEMPLATE` per app; they are dropped when the test file ends.
const workDir = mkdtempSync(join(tmpdir(), 'fastify-portfolio-test-'))
const baseDb = join(workDir, 'base.db')
let migrated: Promise<unknown> | undefined
let counter = 0
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }))

/** The PostgreSQL server tests run on, or null for SQLite. */
export const postgresUrl: string | null = isPostgresUrl(process.env.DATABASE_URL ?? '') ? process.env.DATABASE_URL! : null

const pgDatabases: string[] = []
let pgTemplate: Promise<string> | undefined

/** Runs statements on the database DATABASE_URL names (CREATE/DROP DATABASE run outside a transaction). */
async function onPostgresServer (...statements: string[]): Promise<void> {
  const client = new pg.Client(postgresPoolConfig(postgresUrl!))
  await client.connect()
  try {
    for (const sql of statements) await client.query(sql)
  } finally {
    await client.end()
  }
}

/** `<database of DATABASE_URL>_<pid>_<suffix>`: unique per process, and swept by scripts/test-pg.mjs by its prefix. */
function pgDatabaseName (suffix: string): string {
  const base = decodeURIComponent(new URL(postgresUrl!).pathname.slice(1)) || 'postgres'
  const name = `${base}_${process.pid}_${suffix}`
  if (Buffer.byteLength(name) > 63) throw new Error(`test database name ${name} is longer than PostgreSQL's 63 bytes; use a shorter database in DATABASE_URL`)
  return name
}

async function createPgTemplate (): Promise<string> {
  const name = pgDatabaseName('template')
  pgDatabases.push(name)
  await onPostgresServer(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`, `CREATE DATABASE ${quoteIdent(name)}`)
  await migrate(postgresDatabaseUrl(postgresUrl!, name))
  return name
}

if (postgresUrl !== null) {
  // After every test of the file; copies first, the template last. A test process killed before
  // this leaves its databases behind: scripts/test-pg.mjs drops them with the run's database.
  after(async () => {
    const names = pgDatabases.splice(0).reverse()
    if (names.length > 0) await onPostgresServer(...names.map((name) => `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`))
  })
}

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

/** A copy of the migrated SQLite base file. */
async function freshSqliteFile (): Promise<string> {
  migrated ??= migrate(`file:${baseDb}`)
  await migrated
  const file = join(workDir, `test-${process.pid}-${++counter}.db`)
  copyFileSync(baseDb, file)
  return file
}

/**
 * A fresh database (a copy of the migrated base) and a config pointing at it.
 *
 * `file` is a migrated SQLite file whatever the database: tests that start a real server on a
 * `file:` URL, or open the file with better-sqlite3, use it. On PostgreSQL runs it is made only
 * when read (a getter), and `config.databaseUrl` names a new PostgreSQL database instead.
 */
export async function freshDatabase (overrides: Record<string, string> = {}): Promise<{ config: Config, file: string }> {
  if (postgresUrl === null) {
    const file = await freshSqliteFile()
    return { config: loadConfig(testEnv({ DATABASE_URL: `file:${file}`, ...overrides })), file }
  }
  pgTemplate ??= createPgTemplate()
  const template = await pgTemplate
  const name = pgDatabaseName(String(++counter))
  pgDatabases.push(name)
  await onPostgresServer(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`)
  const config = loadConfig(testEnv({ DATABASE_URL: postgresDatabaseUrl(postgresUrl, name), ...overrides }))
  const sqliteFile = join(workDir, `test-${process.pid}-${name}.db`)
  migrated ??= migrate(`file:${baseDb}`)
  await migrated
  return {
    config,
    get file () {
      if (!existsSync(sqliteFile)) copyFileSync(baseDb, sqliteFile)
      return sqliteFile
    }
  }
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
