/**
 * Prisma Migrate without Prisma's native schema engine.
 *
 * The Prisma CLI downloads a native schema-engine binary from a host that is unreachable where
 * this app is built and deployed, so `prisma migrate` cannot run there. The same engine is
 * published as WebAssembly (`@prisma/schema-engine-wasm`) and talks to the database through a
 * Prisma driver adapter. This module drives it to create and apply migrations in Prisma's
 * standard layout (`prisma/migrations/<timestamp>_<name>/migration.sql`, `migration_lock.toml`,
 * the `_prisma_migrations` table with sha256 checksums), so the real `prisma migrate deploy` can
 * take over wherever the native engine is available.
 *
 * Each database kind is a `Target` (see `resolveTarget`): SQLite (`file:` URLs, migrations in
 * `prisma/migrations/`) and PostgreSQL (`postgres://` / `postgresql://`, migrations in
 * `prisma/postgresql/migrations/`, made from `prisma/postgresql/schema.prisma`).
 *
 * @see https://www.prisma.io/docs/orm/prisma-migrate
 * @see docs/decisions/0003-migrations-without-the-native-engine.md
 * @see docs/decisions/0015-postgresql.md
 */
import { createHash, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import type pg from 'pg'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import {
  bindMigrationAwareSqlAdapterFactory,
  isDriverAdapterError,
  type ConnectionInfo,
  type ErrorRegistry,
  type IsolationLevel,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type SqlResultSet,
  type Transaction
} from '@prisma/driver-adapter-utils'
import type { MigrationDirectory, MigrationList, SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm/schema_engine_bg'
import { projectRoot } from '../lib/paths.ts'

/** A migration problem with a message written for the person running it. */
export class MigrationError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MigrationError'
  }
}

export interface MigrationStatus {
  /** Migrations of the folder that the database has finished applying. */
  applied: string[]
  /** Migrations of the folder that the database has not applied yet. */
  pending: string[]
  /** Migrations the database has applied that the folder does not have (database ahead of the code). */
  unknown: string[]
  /** Migrations that started on the database but never finished (nor were marked rolled back). */
  failed: string[]
  /** Applied migrations whose migration.sql changed since (checksum mismatch): a warning, as in Prisma. */
  edited: string[]
}

export interface StatusOptions {
  /** Defaults to `prisma/migrations` (SQLite) under the project folder. */
  migrationsDir?: string
}

export interface MigrateOptions extends StatusOptions {
  /** Where the pre-migration copy of a SQLite file goes. Defaults to `<folder of the db file>/backups`. */
  backupDir?: string
  /** Receives the engine's log lines and warnings; without it the engine stays quiet. */
  log?: (line: string) => void
}

export interface CreateMigrationOptions {
  /** Used in the folder name, as snake_case: `add user bio` → `<timestamp>_add_user_bio`. */
  name: string
  /** Defaults to `prisma/schema.prisma` under the project folder. */
  schemaPath?: string
  /** Defaults to the migrations folder of the schema's provider under the project folder. */
  migrationsDir?: string
  /**
   * PostgreSQL schemas only: a server to build the shadow database on. A throwaway database is
   * created there (`CREATE DATABASE`) and dropped afterwards; the database the URL names is only
   * used to run those two statements. SQLite replays the history in memory and ignores it.
   */
  databaseUrl?: string
}

type Provider = 'sqlite' | 'postgresql'

const LOCKFILE = 'migration_lock.toml'
const MIGRATION_FILE = 'migration.sql'
const NO_FILTERS: SchemaFilter = { externalTables: [], externalEnums: [] }

/**
 * Absolute path of the SQLite file named by a `file:` URL, or null for any other database.
 * Relative paths are resolved against `process.cwd()` (as `src/db/client.ts` does), a query string
 * (`?connection_limit=1`) is ignored, and `file::memory:` gives `:memory:`, the one value that is
 * not a path.
 */
export function sqliteFilePath (databaseUrl: string): string | null {
  if (!databaseUrl.startsWith('file:')) return null
  const location = databaseUrl.slice('file:'.length).split('?')[0] ?? ''
  if (location === ':memory:') return ':memory:'
  if (location === '') throw new MigrationError('DATABASE_URL "file:" names no file; use e.g. file:./instance/volumes/sqlite.db')
  // `file:///abs/path.db` is a real file URL; `file:./x.db` and `file:/abs/x.db` are Prisma's form.
  if (location.startsWith('//')) return fileURLToPath(`file:${location}`)
  return isAbsolute(location) ? location : resolve(process.cwd(), location)
}

/* -------------------------------------------------------------------------------------------- */
/* Targets: what differs between database kinds.                                               */
/* -------------------------------------------------------------------------------------------- */

interface Target {
  provider: Provider
  /** Migrations in one folder are written for one provider (see migration_lock.toml). */
  defaultMigrationsDir: string
  /** The SQLite file, for backups and for creating its folder; null for server databases. */
  file: string | null
  /** A new adapter factory; the caller disposes every connection it opens. */
  adapterFactory: (mode: 'read' | 'write') => SqlMigrationAwareDriverAdapterFactory
}

function resolveTarget (databaseUrl: string): Target {
  const file = sqliteFilePath(databaseUrl)
  if (file === ':memory:') {
    throw new MigrationError('An in-memory SQLite database cannot be migrated: it is gone when the connection closes.')
  }
  if (file !== null) {
    return {
      provider: 'sqlite',
      defaultMigrationsDir: SQLITE_MIGRATIONS_DIR,
      file,
      // Reading the history must not create an empty file where none exists.
      adapterFactory: (mode) => new PrismaBetterSqlite3({ url: file, fileMustExist: mode === 'read', timeout: 5000 })
    }
  }
  if (isPostgresUrl(databaseUrl)) {
    return {
      provider: 'postgresql',
      defaultMigrationsDir: POSTGRES_MIGRATIONS_DIR,
      file: null,
      adapterFactory: () => new PostgresAdapterFactory(databaseUrl)
    }
  }
  // Only the scheme is shown: the rest of a URL may hold a password.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(databaseUrl)?.[1]?.toLowerCase()
  throw new MigrationError(`DATABASE_URL must start with file: (SQLite) or postgres:// / postgresql:// (PostgreSQL), not ${scheme === undefined ? 'this' : `${scheme}:`}`)
}

const SQLITE_MIGRATIONS_DIR = join(projectRoot, 'prisma', 'migrations')
const POSTGRES_MIGRATIONS_DIR = join(projectRoot, 'prisma', 'postgresql', 'migrations')

/** True for `postgres://` and `postgresql://` URLs (any case), the two schemes libpq accepts. */
export function isPostgresUrl (databaseUrl: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(databaseUrl)
}

/**
 * The node-postgres settings for a PostgreSQL URL, for the app and the migrator alike. The
 * session time zone is pinned to UTC: adapter-pg reads a `timestamptz` by replacing the offset
 * the server printed with `+00:00` instead of converting it, so under any other session time zone
 * every date read back would be shifted (writes are unaffected: they carry their offset).
 * A `?options=` in the URL replaces this one.
 */
export function postgresPoolConfig (databaseUrl: string): pg.PoolConfig {
  return { connectionString: databaseUrl, options: '-c TimeZone=UTC' }
}

/** The same server and credentials as `databaseUrl`, another database. */
export function postgresDatabaseUrl (databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl)
  url.pathname = `/${encodeURIComponent(database)}`
  return url.toString()
}

/** A PostgreSQL identifier, double-quoted (names made here are plain, but stay safe anyway). */
export function quoteIdent (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * adapter-pg for the schema engine, with the three quirks of that pair worked around
 * (STACK-NOTES.md, "Prisma 7 without its native engines"):
 * - the engine's describer reads `"char"` columns (OID 18: `pg_class.relkind`, `contype`, ...)
 *   that adapter-pg has no column type for ("Unsupported column type char"): every pool client
 *   reports them as `text` (OID 25), which is what their text form is;
 * - `connectToShadowDb` of adapter-pg built from a URL connects to the main database (the URL
 *   wins over its `database` field) and never drops what it created: here the shadow database is
 *   created under a unique name, reached by a URL naming it, and dropped when it is disposed;
 * - adapter-pg's `executeScript` splits on every `;`, which breaks `$$` bodies and string
 *   literals: a script goes to the server whole, as one simple-protocol query, which PostgreSQL
 *   runs statement by statement in one implicit transaction.
 */
class PostgresAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres'
  readonly adapterName = '@prisma/adapter-pg'
  #url: string

  constructor (databaseUrl: string) {
    this.#url = databaseUrl
  }

  async connect (): Promise<SqlDriverAdapter> {
    return await postgresAdapter(this.#url, async () => {})
  }

  async connectToShadowDb (): Promise<SqlDriverAdapter> {
    const name = `prisma_shadow_${randomUUID().replaceAll('-', '')}`
    await runOnServer(this.#url, `CREATE DATABASE ${quoteIdent(name)}`)
    try {
      return await postgresAdapter(postgresDatabaseUrl(this.#url, name), async () => {
        await runOnServer(this.#url, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
      })
    } catch (err) {
      await runOnServer(this.#url, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`).catch(() => {})
      throw err
    }
  }
}

/**
 * node-postgres and adapter-pg, loaded on first use: an app on SQLite never pays for them
 * (about 40 ms of start-up).
 */
export async function loadPostgresDriver () {
  const [{ default: driver }, { PrismaPg }] = await Promise.all([import('pg'), import('@prisma/adapter-pg')])
  return { pg: driver, PrismaPg }
}

/** One statement on a short-lived connection to the database `databaseUrl` names. */
async function runOnServer (databaseUrl: string, sql: string): Promise<void> {
  const { pg } = await loadPostgresDriver()
  const client = new pg.Client(postgresPoolConfig(databaseUrl))
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

async function postgresAdapter (databaseUrl: string, afterDispose: () => Promise<void>): Promise<SqlDriverAdapter> {
  const { pg, PrismaPg } = await loadPostgresDriver()
  const pool = new pg.Pool(postgresPoolConfig(databaseUrl))
  pool.on('connect', reportCharColumnsAsText)
  const inner = await new PrismaPg(pool, { disposeExternalPool: true }).connect()
  return Object.assign(Object.create(inner) as SqlDriverAdapter, {
    async executeScript (script: string): Promise<void> {
      // No parameters: node-postgres uses the simple query protocol, which takes many statements.
      await pool.query(script)
    },
    async dispose (): Promise<void> {
      try {
        await inner.dispose()
      } finally {
        await afterDispose()
      }
    }
  })
}

const PG_CHAR_OID = 18
const PG_TEXT_OID = 25

type PgCallback = (err: Error | null, result?: pg.QueryResult) => void

/** Patches a new pool client so the field descriptions of its results say `text` for `"char"`. */
function reportCharColumnsAsText (client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  const fix = (result: pg.QueryResult | undefined): pg.QueryResult | undefined => {
    for (const field of result?.fields ?? []) {
      if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID
    }
    return result
  }
  Object.assign(client, {
    query: (...args: unknown[]) => {
      const last = args.at(-1)
      // pg-pool's `pool.query` calls `client.query(text, values, callback)`.
      if (typeof last === 'function') {
        const callback = last as PgCallback
        return query(...args.slice(0, -1), (err: Error | null, result?: pg.QueryResult) => callback(err, fix(result)))
      }
      const pending = query(...args)
      return pending instanceof Promise ? pending.then(fix) : pending
    }
  })
}

/* -------------------------------------------------------------------------------------------- */
/* The migrations folder.                                                                       */
/* -------------------------------------------------------------------------------------------- */

function lockfileText (provider: Provider): string {
  // Byte for byte what the Prisma CLI writes, so it never shows up as a change.
  return '# Please do not edit this file manually\n' +
    '# It should be added in your version-control system (e.g., Git)\n' +
    `provider = "${provider}"\n`
}

function lockfileProvider (text: string): string | null {
  return /^\s*provider\s*=\s*"([^"]*)"/m.exec(text)?.[1] ?? null
}

interface MigrationFolder {
  list: MigrationList
  /** Folder names in apply order, with the sha256 of each migration.sql. */
  migrations: Array<{ name: string, checksum: string }>
}

/** Reads the folder as the Prisma CLI does (directories sorted by name, each with migration.sql). */
async function readMigrationFolder (dir: string, provider: Provider, options: { mustExist: boolean }): Promise<MigrationFolder> {
  const lockfile = await readFile(join(dir, LOCKFILE), 'utf8').catch(ignoreMissing)
  let entries: string[] = []
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name)
  } catch (err) {
    if (!isMissingFile(err)) throw err
    if (options.mustExist) throw new MigrationError(`There is no migrations folder at ${displayPath(dir)}.`)
  }
  if (lockfile !== null && lockfileProvider(lockfile) !== provider) {
    throw new MigrationError(`The migrations in ${displayPath(dir)} are for ${lockfileProvider(lockfile) ?? 'an unknown provider'} (see ${LOCKFILE}), not ${provider}.`)
  }
  // localeCompare, as the Prisma CLI sorts: the order the migrations are applied in.
  entries.sort((a, b) => a.localeCompare(b))
  const migrationDirectories: MigrationDirectory[] = []
  const migrations: MigrationFolder['migrations'] = []
  for (const name of entries) {
    const sql = await readFile(join(dir, name, MIGRATION_FILE), 'utf8').catch(ignoreMissing)
    if (sql === null) throw new MigrationError(`${displayPath(join(dir, name))} has no ${MIGRATION_FILE}; remove the folder or add the file.`)
    migrationDirectories.push({ path: name, migrationFile: { path: MIGRATION_FILE, content: { tag: 'ok', value: sql } } })
    migrations.push({ name, checksum: sha256(sql) })
  }
  return {
    list: {
      baseDir: dir,
      // The engine learns the provider of a migration history from the lockfile; a missing one
      // (first migration) is described as it will be written.
      lockfile: { path: LOCKFILE, content: lockfile ?? lockfileText(provider) },
      shadowDbInitScript: '',
      migrationDirectories
    },
    migrations
  }
}

/* -------------------------------------------------------------------------------------------- */
/* The schema engine (WebAssembly).                                                             */
/* -------------------------------------------------------------------------------------------- */

type EngineModule = typeof import('@prisma/schema-engine-wasm/schema_engine_bg')

/** The part of the WebAssembly global used here: @types/node does not declare it without the DOM lib. */
interface WasmApi {
  instantiate: (bytes: Uint8Array, imports: Record<string, unknown>) => Promise<{ instance: { exports: Record<string, unknown> } }>
}

let engineModule: Promise<EngineModule> | undefined

/**
 * Loads the engine once per process. The package's entry point does `import * from './x.wasm'`,
 * which Node 20 only allows with --experimental-wasm-modules; so this does what that entry
 * point does, by hand: instantiate the .wasm with the JS glue module as its imports, hand the
 * exports back to the glue, then run the module's start function.
 */
async function loadEngine (): Promise<EngineModule> {
  engineModule ??= (async () => {
    const glue: EngineModule = await import('@prisma/schema-engine-wasm/schema_engine_bg')
    const gluePath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg')
    const bytes = await readFile(join(dirname(gluePath), 'schema_engine_bg.wasm'))
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly
    // The .wasm imports every glue function from the module named after the glue file.
    const { instance } = await wasm.instantiate(bytes, { './schema_engine_bg.js': withUnrefTimers(glue) })
    glue.__wbg_set_wasm(instance.exports)
    const start = instance.exports.__wbindgen_start
    if (typeof start === 'function') start()
    return glue
  })()
  // A failed load (missing file) is not cached, so a later call can try again.
  engineModule.catch(() => { engineModule = undefined })
  return await engineModule
}

/**
 * The glue with its `setTimeout` import returning unref'd timers. The engine starts timers for
 * its timeouts (10 s, e.g. around PostgreSQL's migration lock) and never clears them (the glue
 * has no clearTimeout): a finished migration would otherwise keep the process alive for 10 s.
 * Whatever the engine waits on while it works (a database socket) keeps the process alive.
 */
function withUnrefTimers (glue: EngineModule): Record<string, unknown> {
  const imports: Record<string, unknown> = { ...glue }
  for (const [name, fn] of Object.entries(glue)) {
    if (!name.startsWith('__wbg_setTimeout_') || typeof fn !== 'function') continue
    imports[name] = (...args: unknown[]) => {
      const timer: unknown = Reflect.apply(fn, undefined, args)
      ;(timer as { unref?: () => void } | null)?.unref?.()
      return timer
    }
  }
  return imports
}

/**
 * Forwards to a driver adapter, with two fixes for the engine:
 * - the engine replays a whole migration script with `executeRaw` when it builds a shadow
 *   database; better-sqlite3 refuses to prepare more than one statement and throws before
 *   running anything, so such a script is run again through `executeScript`;
 * - `dispose` can be called twice (by the engine, then by our clean-up) and closes once.
 */
class ScriptAwareAdapter implements SqlDriverAdapter {
  readonly provider: SqlDriverAdapter['provider']
  readonly adapterName: string
  // Only defined when the wrapped adapter has it: the engine asks adapter-pg for its schema.
  getConnectionInfo?: () => ConnectionInfo
  #inner: SqlDriverAdapter
  #onDispose: () => void
  #disposed = false

  constructor (inner: SqlDriverAdapter, onDispose: () => void) {
    this.#inner = inner
    this.#onDispose = onDispose
    this.provider = inner.provider
    this.adapterName = inner.adapterName
    if (inner.getConnectionInfo !== undefined) {
      const getInfo = inner.getConnectionInfo.bind(inner)
      this.getConnectionInfo = () => getInfo()
    }
  }

  async queryRaw (query: SqlQuery): Promise<SqlResultSet> {
    return await this.#inner.queryRaw(query)
  }

  async executeRaw (query: SqlQuery): Promise<number> {
    try {
      return await this.#inner.executeRaw(query)
    } catch (err) {
      if (query.args.length > 0 || !isMultipleStatementsError(err)) throw err
      await this.#inner.executeScript(query.sql)
      return 0
    }
  }

  async executeScript (script: string): Promise<void> {
    await this.#inner.executeScript(script)
  }

  async startTransaction (isolationLevel?: IsolationLevel): Promise<Transaction> {
    return await this.#inner.startTransaction(isolationLevel)
  }

  async dispose (): Promise<void> {
    if (this.#disposed) return
    this.#disposed = true
    this.#onDispose()
    await this.#inner.dispose()
  }
}

function isMultipleStatementsError (err: unknown): boolean {
  return err instanceof RangeError && err.message.includes('more than one statement')
}

/**
 * Hands the engine wrapped connections and remembers the open ones: the engine never disposes
 * its main connection (it only frees its own memory), and a SQLite file it opened stays locked
 * (`locking_mode=EXCLUSIVE`) until that connection closes.
 */
class TrackingAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider: SqlMigrationAwareDriverAdapterFactory['provider']
  readonly adapterName: string
  #inner: SqlMigrationAwareDriverAdapterFactory
  #open = new Set<ScriptAwareAdapter>()

  constructor (inner: SqlMigrationAwareDriverAdapterFactory) {
    this.#inner = inner
    this.provider = inner.provider
    this.adapterName = inner.adapterName
  }

  async connect (): Promise<SqlDriverAdapter> {
    return this.#track(await this.#inner.connect())
  }

  async connectToShadowDb (): Promise<SqlDriverAdapter> {
    return this.#track(await this.#inner.connectToShadowDb())
  }

  /** Closes whatever is still open; errors on close are secondary to the result and are dropped. */
  async disposeAll (): Promise<void> {
    await Promise.allSettled([...this.#open].map(async (adapter) => await adapter.dispose()))
  }

  #track (inner: SqlDriverAdapter): SqlDriverAdapter {
    const adapter: ScriptAwareAdapter = new ScriptAwareAdapter(inner, () => this.#open.delete(adapter))
    this.#open.add(adapter)
    return adapter
  }
}

/** Runs `work` with a fresh engine on `factory`, then frees the engine and closes every connection. */
async function withEngine<T> (
  factory: SqlMigrationAwareDriverAdapterFactory,
  options: { datamodels?: Array<[string, string]>, log?: (line: string) => void },
  work: (engine: SchemaEngine) => Promise<T>
): Promise<T> {
  const { SchemaEngine } = await loadEngine()
  const tracking = new TrackingAdapterFactory(factory)
  const bound = bindMigrationAwareSqlAdapterFactory(tracking)
  const log = options.log
  let engine: SchemaEngine | undefined
  try {
    engine = await SchemaEngine.new(
      { datamodels: options.datamodels },
      // The engine logs JSON lines (tracing events); dropped unless someone asked for them.
      log === undefined ? () => {} : (line: string) => log(formatEngineLog(line)),
      bound
    )
    return await work(engine)
  } catch (err) {
    throw engineError(err, bound.errorRegistry)
  } finally {
    engine?.free()
    await tracking.disposeAll()
  }
}

function formatEngineLog (line: string): string {
  try {
    const event = JSON.parse(line) as { level?: string, fields?: Record<string, unknown> }
    const { message, ...rest } = event.fields ?? {}
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : ''
    return `schema-engine ${(event.level ?? 'log').toLowerCase()}: ${String(message ?? '')}${extra}`
  } catch {
    return `schema-engine: ${line}`
  }
}

/**
 * Engine errors carry a Rust span trace after the message, and errors thrown by the driver
 * (the SQL error of a failing migration) only as "External error id#N", kept in the adapter
 * factory's registry. Keep the message, add the driver's, drop the trace.
 */
function engineError (err: unknown, registry: ErrorRegistry): unknown {
  if (err instanceof MigrationError || !(err instanceof Error)) return err
  let message = err.message.split(/\n\s+0: /)[0]?.trim() ?? err.message
  message = message.replace(/External error id#(\d+)/g, (text, id: string) => {
    const cause = registry.consumeError(Number(id))?.error
    return cause instanceof Error ? cause.message : text
  })
  // The trace names the migration that failed; the message alone does not.
  const migration = /migration_name="([^"]+)"/.exec(err.message)?.[1]
  if (migration !== undefined) message = `Migration ${migration} failed: ${message}`
  const code = (err as { code?: unknown }).code
  return new MigrationError(typeof code === 'string' ? `${message} (${code})` : message, { cause: err })
}

/* -------------------------------------------------------------------------------------------- */
/* createMigration                                                                              */
/* -------------------------------------------------------------------------------------------- */

/**
 * Writes the next migration: the SQL that takes a database from the end of the migration
 * history to the schema. Returns null when the two already agree.
 *
 * SQLite replays the history on an in-memory database. PostgreSQL replays it on a throwaway
 * database created on the server `databaseUrl` names (required for a PostgreSQL schema) and
 * dropped afterwards; nothing else on that server is touched.
 */
export async function createMigration (options: CreateMigrationOptions): Promise<{ dir: string, sql: string } | null> {
  const slug = snakeCase(options.name)
  if (slug === '') throw new MigrationError('Give the migration a name made of letters or digits, e.g. add_user_bio.')
  const onPostgres = options.databaseUrl !== undefined && isPostgresUrl(options.databaseUrl)
  const schemaPath = resolve(options.schemaPath ?? join(projectRoot, 'prisma', ...(onPostgres ? ['postgresql'] : []), 'schema.prisma'))
  const schema = await readFile(schemaPath, 'utf8').catch((err: unknown) => {
    throw new MigrationError(`Cannot read the Prisma schema at ${displayPath(schemaPath)}.`, { cause: err })
  })
  const provider = schemaProvider(schema)
  if (provider !== 'sqlite' && provider !== 'postgresql') {
    throw new MigrationError(`The schema's datasource provider must be "sqlite" or "postgresql" (found ${provider === null ? 'none' : `"${provider}"`}).`)
  }
  let factory: SqlMigrationAwareDriverAdapterFactory
  if (provider === 'sqlite') {
    factory = new PrismaBetterSqlite3({ url: ':memory:' })
  } else if (options.databaseUrl !== undefined && isPostgresUrl(options.databaseUrl)) {
    factory = new PostgresAdapterFactory(options.databaseUrl)
  } else {
    throw new MigrationError('A PostgreSQL migration needs a shadow database: pass databaseUrl (postgresql://...) naming a server where this user may CREATE DATABASE.')
  }
  const migrationsDir = resolve(options.migrationsDir ?? (provider === 'sqlite' ? SQLITE_MIGRATIONS_DIR : POSTGRES_MIGRATIONS_DIR))

  const folder = await readMigrationFolder(migrationsDir, provider, { mustExist: false })
  const files = [{ path: schemaPath, content: schema }]
  const result = await withEngine(
    factory,
    { datamodels: [[schemaPath, schema]] },
    async (engine) => await engine.diff({
      from: { tag: 'migrations', ...folder.list },
      to: { tag: 'schemaDatamodel', files },
      script: true,
      // Exit code 2 means "there is a difference": no need to recognise the empty script's text.
      exitCode: true,
      filters: NO_FILTERS
    })
  )
  if (result.exitCode !== 2 || result.stdout === null) return null

  const sql = provider === 'sqlite' ? fixSqliteJsonDefaults(result.stdout) : result.stdout
  const lastName = folder.migrations.at(-1)?.name
  const dir = join(migrationsDir, `${nextTimestamp(lastName)}_${slug}`)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, MIGRATION_FILE), sql, { encoding: 'utf8', flag: 'wx' })
  // 'wx' keeps an existing lockfile as it is; only a missing one is written.
  await writeFile(join(migrationsDir, LOCKFILE), lockfileText(provider), { encoding: 'utf8', flag: 'wx' }).catch(ignoreExisting)
  return { dir, sql }
}

/** The `provider` of the schema's `datasource` block. */
function schemaProvider (schema: string): string | null {
  const block = /^\s*datasource\s+\w+\s*\{([^}]*)\}/m.exec(schema)?.[1] ?? ''
  return /^\s*provider\s*=\s*"([^"]*)"/m.exec(block)?.[1] ?? null
}

/**
 * The engine writes a SQLite `Json` default unquoted (`"hashmap" JSONB NOT NULL DEFAULT {}`),
 * which SQLite rejects ("unrecognized token"), so such a migration could never be applied
 * (prisma/orm#26571, open in this engine version). Quote it as the string literal it is: the
 * engine reads `'{}'` back as the same default, so the next diff stays empty.
 * @see https://github.com/prisma/orm/issues/26571
 */
function fixSqliteJsonDefaults (sql: string): string {
  // In a CREATE TABLE column list (`...,` or last line) and in `ALTER TABLE ... ADD COLUMN ...;`.
  return sql.replace(/("[^"]+" JSONB(?: NOT NULL)? DEFAULT )([{[].*[}\]])(?=[,;]?$)/gm,
    (_match, head: string, json: string) => `${head}'${json.replaceAll("'", "''")}'`)
}

function snakeCase (name: string): string {
  return name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 200)
}

/** UTC `YYYYMMDDHHMMSS`, as Prisma names migrations. */
function timestamp (date: Date): string {
  return date.toISOString().replace(/\D/g, '').slice(0, 14)
}

/**
 * Now, or one second after the newest migration if that is not earlier (two migrations made in
 * the same second, or a clock behind): migrations apply in name order, so a new one must sort last.
 */
function nextTimestamp (lastName: string | undefined): string {
  const now = timestamp(new Date())
  const last = /^(\d{14})/.exec(lastName ?? '')?.[1]
  if (last === undefined || last < now) return now
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((at, i) => Number(last.slice(at, at + (i === 0 ? 4 : 2)))) as [number, number, number, number, number, number]
  return timestamp(new Date(Date.UTC(y, mo - 1, d, h, mi, s + 1)))
}

/* -------------------------------------------------------------------------------------------- */
/* migrationStatus and migrate                                                                  */
/* -------------------------------------------------------------------------------------------- */

interface HistoryRow {
  name: string
  checksum: string
  finished: boolean
  rolledBack: boolean
}

/**
 * Compares the migrations folder with the database's `_prisma_migrations` table.
 * Does not create a missing SQLite file (a missing file has every migration pending).
 */
export async function migrationStatus (databaseUrl: string, options: StatusOptions = {}): Promise<MigrationStatus> {
  const target = resolveTarget(databaseUrl)
  const folder = await readMigrationFolder(resolve(options.migrationsDir ?? target.defaultMigrationsDir), target.provider, { mustExist: false })
  return compareHistory(folder, await readHistory(target))
}

async function readHistory (target: Target): Promise<HistoryRow[]> {
  if (target.file !== null && !existsSync(target.file)) return []
  const adapter = await target.adapterFactory('read').connect()
  try {
    // Plain SQL that SQLite and PostgreSQL both accept, through the same adapter interface.
    const result = await adapter.queryRaw({
      sql: 'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at',
      args: [],
      argTypes: []
    })
    const at = (column: string): number => result.columnNames.indexOf(column)
    return result.rows.map((row) => ({
      name: String(row[at('migration_name')]),
      checksum: String(row[at('checksum')]),
      finished: row[at('finished_at')] !== null,
      rolledBack: row[at('rolled_back_at')] !== null
    }))
  } catch (err) {
    // No table yet: nothing was ever migrated.
    if (isDriverAdapterError(err) && err.cause.kind === 'TableDoesNotExist') return []
    // adapter-pg's errors say only their kind (`DatabaseAccessDenied`); the server's words are in the cause.
    const original = isDriverAdapterError(err) ? (err.cause as { originalMessage?: unknown }).originalMessage : undefined
    const reason = typeof original === 'string' ? `${original} (${err instanceof Error ? err.message : ''})` : err instanceof Error ? err.message : String(err)
    throw new MigrationError(`Cannot read the migration history of the database: ${reason}`, { cause: err })
  } finally {
    await adapter.dispose()
  }
}

/** Rows marked rolled back are ignored, as Prisma does: they are an audit trail only. */
function compareHistory (folder: MigrationFolder, rows: HistoryRow[]): MigrationStatus {
  const live = rows.filter((row) => !row.rolledBack)
  const inFolder = new Map(folder.migrations.map((migration) => [migration.name, migration.checksum]))
  const finished = new Map(live.filter((row) => row.finished).map((row) => [row.name, row.checksum]))
  const failed = unique(live.filter((row) => !row.finished && !finished.has(row.name)).map((row) => row.name))
  const applied = folder.migrations.filter((migration) => finished.has(migration.name)).map((migration) => migration.name)
  return {
    applied,
    pending: folder.migrations.filter((migration) => !finished.has(migration.name) && !failed.includes(migration.name)).map((migration) => migration.name),
    unknown: [...finished.keys()].filter((name) => !inFolder.has(name)),
    failed,
    edited: applied.filter((name) => finished.get(name) !== inFolder.get(name))
  }
}

/**
 * Applies the pending migrations of the folder, as `prisma migrate deploy` does.
 *
 * Refuses when the database has migrations the folder lacks (it was migrated by newer code) or a
 * migration that never finished. Before changing an existing, non-empty SQLite file it writes a
 * consistent copy of it (SQLite's online backup) to `backupDir`. It never resets the database.
 */
export async function migrate (databaseUrl: string, options: MigrateOptions = {}): Promise<{ applied: string[], backup: string | null }> {
  try {
    return await migrateTarget(databaseUrl, options)
  } catch (err) {
    throw explainAccessError(err, databaseUrl)
  }
}

const ACCESS_ERRORS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'SQLITE_CANTOPEN', 'SQLITE_READONLY'])

/** File-permission failures become one clear sentence instead of a stack trace. */
function explainAccessError (err: unknown, databaseUrl: string): unknown {
  const code = (err as { code?: unknown }).code
  if (err instanceof MigrationError || typeof code !== 'string' || !ACCESS_ERRORS.has(code)) return err
  const file = sqliteFilePath(databaseUrl)
  const where = file === null ? 'the database' : displayPath(dirname(file))
  return new MigrationError(
    `Cannot write to ${where} (${code}). The user running the app needs write access to that folder ` +
    '(in a container: the mounted instance/ volume). Nothing was changed.', { cause: err })
}

async function migrateTarget (databaseUrl: string, options: MigrateOptions): Promise<{ applied: string[], backup: string | null }> {
  const target = resolveTarget(databaseUrl)
  const migrationsDir = resolve(options.migrationsDir ?? target.defaultMigrationsDir)
  const folder = await readMigrationFolder(migrationsDir, target.provider, { mustExist: true })
  const status = compareHistory(folder, await readHistory(target))

  if (status.unknown.length > 0) {
    throw new MigrationError(
      `The database has ${plural(status.unknown.length, 'migration')} that ${displayPath(migrationsDir)} does not: ` +
      `${status.unknown.join(', ')}. It was migrated by a newer version of the app; run that version, ` +
      'or restore a backup taken before it, instead of migrating with this one. Nothing was changed.'
    )
  }
  if (status.failed.length > 0) {
    throw new MigrationError(
      `${plural(status.failed.length, 'migration')} started on the database but never finished: ${status.failed.join(', ')}. ` +
      'Restore the backup taken before that run (SQLite: the newest file in the backups folder), or repair ' +
      'the database by hand and mark it rolled back (`prisma migrate resolve --rolled-back <name>`), then ' +
      'migrate again. Nothing was changed.'
    )
  }
  for (const name of status.edited) {
    options.log?.(`warning: ${name}/${MIGRATION_FILE} was changed after it was applied; the database keeps the old version`)
  }
  if (status.pending.length === 0) return { applied: [], backup: null }

  let backup: string | null = null
  if (target.file !== null) {
    backup = await backupSqlite(target.file, options.backupDir ?? join(dirname(target.file), 'backups'))
    await mkdir(dirname(target.file), { recursive: true })
  }
  try {
    // On PostgreSQL the engine holds Prisma's advisory lock while it applies, and reads the history
    // again under it: instances migrating one database together apply each migration once (tested).
    const result = await withEngine(target.adapterFactory('write'), { log: options.log }, async (engine) =>
      await engine.applyMigrations({ migrationsList: folder.list, filters: NO_FILTERS }))
    return { applied: result.appliedMigrationNames, backup }
  } catch (err) {
    if (!(err instanceof MigrationError) || backup === null) throw err
    throw new MigrationError(`${err.message}\nThe database as it was before migrating is in ${displayPath(backup)}.`, { cause: err.cause })
  }
}

/**
 * Copies an existing, non-empty SQLite file with better-sqlite3's `.backup()` (SQLite's online
 * backup API: a consistent copy even with WAL or another connection open). Returns its path, or
 * null when there was nothing to keep.
 */
async function backupSqlite (file: string, backupDir: string): Promise<string | null> {
  const size = await stat(file).then((info) => info.size, ignoreMissing)
  if (size === null || size === 0) return null
  await mkdir(backupDir, { recursive: true })
  const stamp = timestamp(new Date())
  let destination = join(backupDir, `sqlite-${stamp}.db`)
  for (let n = 1; existsSync(destination); n++) destination = join(backupDir, `sqlite-${stamp}-${n}.db`)
  const db = new Database(file, { fileMustExist: true })
  try {
    await db.backup(destination)
  } finally {
    db.close()
  }
  return destination
}

/* -------------------------------------------------------------------------------------------- */
/* Small helpers.                                                                               */
/* -------------------------------------------------------------------------------------------- */

function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function unique (names: string[]): string[] {
  return [...new Set(names)]
}

function plural (count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

/** A path relative to the working folder when inside it: shorter messages, same meaning. */
function displayPath (path: string): string {
  const rel = relative(process.cwd(), path)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path
}

function isMissingFile (err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ENOENT'
}

function ignoreMissing (err: unknown): null {
  if (isMissingFile(err)) return null
  throw err
}

function ignoreExisting (err: unknown): void {
  if ((err as { code?: unknown } | null)?.code !== 'EEXIST') throw err
}
