import assert from 'node:assert/strict'
import { cp, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createPrismaClient } from '../../src/db/client.ts'
import { createMigration, migrate, migrationStatus, postgresDatabaseUrl, quoteIdent } from '../../src/db/migrator.ts'
import { UidTakenError } from '../../src/lib/errors.ts'
import { build, freshDatabase, postgresUrl } from '../helper.ts'

const sqliteSchema = fileURLToPath(new URL('../../prisma/schema.prisma', import.meta.url))
const postgresSchema = fileURLToPath(new URL('../../prisma/postgresql/schema.prisma', import.meta.url))
const postgresMigrations = fileURLToPath(new URL('../../prisma/postgresql/migrations', import.meta.url))

/** Enums and models of a Prisma schema: block name → its lines, comments and spacing removed. */
function blocks (schema: string): Map<string, string[]> {
  const result = new Map<string, string[]>()
  const text = schema.replace(/\/\/.*$/gm, '')
  for (const match of text.matchAll(/^(model|enum)\s+(\w+)\s*\{([^}]*)\}/gm)) {
    const lines = (match[3] ?? '').split('\n').map((line) => line.trim().split(/\s+/).join(' ')).filter((line) => line !== '')
    result.set(`${match[1]} ${match[2]}`, lines)
  }
  return result
}

test('the PostgreSQL schema has the same models as the SQLite one, field by field', async () => {
  const sqlite = blocks(await readFile(sqliteSchema, 'utf8'))
  const postgres = blocks(await readFile(postgresSchema, 'utf8'))
  assert.ok(sqlite.size >= 4, 'the parser found the models')
  assert.deepEqual([...postgres.keys()], [...sqlite.keys()], 'the same enums and models, in the same order')
  for (const [name, lines] of postgres) {
    for (const line of lines) {
      // Every date is a timestamptz on PostgreSQL (an instant, UTC whatever the server's zone).
      if (/^\w+ DateTime\??( |$)/.test(line)) assert.match(line, /^\w+ DateTime\?? @db\.Timestamptz\(3\)( |$)/, `${name}: ${line}`)
    }
    // Apart from that attribute, the lines are the SQLite schema's.
    assert.deepEqual(lines.map((line) => line.replace(' @db.Timestamptz(3)', '')), sqlite.get(name), name)
  }
  const datasource = (await readFile(postgresSchema, 'utf8')).match(/provider\s*=\s*"(\w+)"\s*\n\s*\}/)?.[1]
  assert.equal(datasource, 'postgresql')
})

const onPostgres = postgresUrl === null ? 'runs under npm run test:pg (DATABASE_URL=postgresql://...)' : false

/** A database of its own on the test server, dropped after the test. */
async function scratchDatabase (t: { after: (fn: () => Promise<void>) => void }, suffix: string): Promise<string> {
  const name = `${new URL(postgresUrl!).pathname.slice(1)}_${process.pid}_${suffix}`
  await sql(postgresUrl!, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`, `CREATE DATABASE ${quoteIdent(name)}`)
  t.after(async () => { await sql(postgresUrl!, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`) })
  return postgresDatabaseUrl(postgresUrl!, name)
}

async function sql (url: string, ...statements: string[]): Promise<unknown[][]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const results: unknown[][] = []
    for (const statement of statements) results.push((await client.query(statement)).rows)
    return results
  } finally {
    await client.end()
  }
}

async function databaseNames (): Promise<string[]> {
  const [rows] = await sql(postgresUrl!, 'SELECT datname FROM pg_database ORDER BY datname') as [Array<{ datname: string }>]
  return rows.map((row) => row.datname)
}

test('user ids that differ only in case or Unicode form collide on PostgreSQL as on SQLite', { skip: onPostgres }, async (t) => {
  const app = await build(t)
  assert.match(app.config.databaseUrl, /^postgres/)
  const toby = await app.usersRepository.create({ uid: 'Toby', name: 'Toby', password: 'long-enough-1' })
  assert.equal(toby.uid, 'toby')
  for (const twin of ['toby', ' TOBY ', 'ｔｏｂｙ']) {
    await assert.rejects(app.usersRepository.create({ uid: twin, name: 'Twin', password: 'long-enough-1' }), UidTakenError, twin)
  }
  assert.equal(await app.usersRepository.count(), 1)
  assert.equal((await app.usersRepository.findByUid('TOBY'))?.id, toby.id)
})

test('dates are stored and read back as the same instants whatever the server\'s time zone', { skip: onPostgres }, async (t) => {
  const { config } = await freshDatabase()
  const database = new URL(config.databaseUrl).pathname.slice(1)
  // Sessions that do not ask otherwise now get a zone 3.5 hours behind UTC.
  await sql(postgresUrl!, `ALTER DATABASE ${quoteIdent(database)} SET timezone = 'America/St_Johns'`)
  const prisma = await createPrismaClient(config.databaseUrl)
  t.after(async () => { await prisma.$disconnect() })
  const dob = new Date('1990-06-15T00:00:00.000Z')
  const expiresAt = new Date('2030-01-02T03:04:05.678Z')
  const user = await prisma.user.create({ data: { uid: 'tz', name: 'Tz', passwordHash: 'x', dob } })
  const session = await prisma.session.create({ data: { id: 'tz-session', userId: user.id, expiresAt } })
  const read = await prisma.session.findUniqueOrThrow({ where: { id: session.id }, include: { user: true } })
  assert.equal(read.expiresAt.toISOString(), expiresAt.toISOString())
  assert.equal(read.user.dob?.toISOString(), dob.toISOString())
  assert.ok(Math.abs(read.createdAt.getTime() - Date.now()) < 60_000, `createdAt ${read.createdAt.toISOString()} is now`)
  // What was stored is the instant itself: another session in that zone sees it at -03:30.
  const [rows] = await sql(config.databaseUrl, 'SELECT "expiresAt"::text AS at FROM "Session"') as [Array<{ at: string }>]
  assert.equal(rows[0]?.at, '2030-01-01 23:34:05.678-03:30')
})

test('the committed PostgreSQL migrations describe the schema; a new one is made on a throwaway shadow database', { skip: onPostgres }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pg-migrations-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const migrations = join(dir, 'migrations')
  await cp(postgresMigrations, migrations, { recursive: true })
  // Only shadow databases count: other test processes create and drop their own meanwhile.
  const shadows = async () => (await databaseNames()).filter(name => name.startsWith('prisma_shadow'))
  const before = await shadows()

  assert.equal(await createMigration({ name: 'nothing', schemaPath: postgresSchema, migrationsDir: migrations, databaseUrl: postgresUrl! }), null)

  const schema = join(dir, 'schema.prisma')
  await writeFile(schema, (await readFile(postgresSchema, 'utf8')).replace(/^( +updatedAt .*\n)/m, '$1  bio String?\n'))
  const created = await createMigration({ name: 'add bio', schemaPath: schema, migrationsDir: migrations, databaseUrl: postgresUrl! })
  assert.ok(created !== null)
  assert.match(created.sql, /ALTER TABLE "User" ADD COLUMN {5}"bio" TEXT;/)
  assert.deepEqual(await shadows(), before, 'the shadow databases were dropped')

  const url = await scratchDatabase(t, 'mig')
  const { applied } = await migrate(url, { migrationsDir: migrations })
  assert.equal(applied.length, (await migrationStatus(url, { migrationsDir: migrations })).applied.length)
  assert.deepEqual((await migrationStatus(url, { migrationsDir: migrations })).pending, [])
  const [columns] = await sql(url, 'SELECT column_name FROM information_schema.columns WHERE table_name = \'User\' AND column_name = \'bio\'')
  assert.equal(columns?.length, 1)
})

test('a migration with semicolons inside a $$ body and a string is applied whole', { skip: onPostgres }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pg-migrations-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const migrations = join(dir, 'migrations')
  await cp(postgresMigrations, migrations, { recursive: true })
  await mkdir(join(migrations, '29990101000000_function'))
  await writeFile(join(migrations, '29990101000000_function', 'migration.sql'),
    "CREATE FUNCTION touch_note() RETURNS text LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 'a; b';\nEND;\n$$;\n" +
    "CREATE TABLE \"Note\" (\"text\" TEXT NOT NULL DEFAULT 'x; y');\n")
  const url = await scratchDatabase(t, 'fn')
  const { applied } = await migrate(url, { migrationsDir: migrations })
  assert.equal(applied.at(-1), '29990101000000_function')
  const [rows] = await sql(url, 'INSERT INTO "Note" DEFAULT VALUES', 'SELECT touch_note() AS fn, "text" FROM "Note"').then((r) => r.slice(1))
  assert.deepEqual(rows, [{ fn: 'a; b', text: 'x; y' }])
})

test('the migration history of a test database is complete', { skip: onPostgres }, async () => {
  const { config } = await freshDatabase()
  const status = await migrationStatus(config.databaseUrl)
  assert.deepEqual({ pending: status.pending, failed: status.failed, unknown: status.unknown }, { pending: [], failed: [], unknown: [] })
  assert.ok(status.applied.length >= 1)
})

test('instances starting together migrate one at a time: one applies, the others find nothing pending', { skip: onPostgres }, async (t) => {
  const url = await scratchDatabase(t, 'race')
  const results = await Promise.all([1, 2, 3].map(() => migrate(url)))
  const applying = results.filter((r) => r.applied.length > 0)
  assert.equal(applying.length, 1, JSON.stringify(results))
  const status = await migrationStatus(url)
  assert.deepEqual({ pending: status.pending, failed: status.failed }, { pending: [], failed: [] })
})
