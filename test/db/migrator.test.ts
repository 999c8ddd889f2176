import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { createMigration, migrate, MigrationError, migrationStatus, sqliteFilePath } from '../../src/db/migrator.ts'

const migrationsDir = fileURLToPath(new URL('../../prisma/migrations', import.meta.url))
const schemaPath = fileURLToPath(new URL('../../prisma/schema.prisma', import.meta.url))

/** A fresh folder under the OS temp folder, removed after the test. */
async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'migrator-test-'))
  t.after(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

/** A copy of the project's migrations that a test may add to. */
async function copyOfMigrations (dir: string): Promise<string> {
  const copy = join(dir, 'migrations')
  await cp(migrationsDir, copy, { recursive: true })
  return copy
}

async function committedMigrations (): Promise<string[]> {
  return (await readdir(migrationsDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()
}

/** Runs `read` on a short-lived connection, so no test leaves a handle open. */
function withDb<T> (file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { fileMustExist: true })
  try {
    return read(db)
  } finally {
    db.close()
  }
}

function tableNames (file: string): string[] {
  return withDb(file, (db) => db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((row) => row.name))
}

function columnNames (file: string, table: string): string[] {
  return withDb(file, (db) => db.prepare<[], { name: string }>(`PRAGMA table_info("${table}")`).all().map((row) => row.name))
}

function sha256 (data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

test('migrating a fresh file creates its folder, the tables and the standard history table', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'nested', 'volumes', 'sqlite.db')

  const result = await migrate(`file:${file}`)

  const names = await committedMigrations()
  assert.deepEqual(result, { applied: names, backup: null })
  const tables = tableNames(file)
  for (const table of ['User', 'Session', '_prisma_migrations']) assert.ok(tables.includes(table), `${table} exists`)
  const rows = withDb(file, (db) => db.prepare<[], { migration_name: string, checksum: string, finished_at: string | null }>(
    'SELECT migration_name, checksum, finished_at FROM _prisma_migrations ORDER BY migration_name').all())
  assert.equal(rows.length, names.length)
  for (const [i, row] of rows.entries()) {
    assert.equal(row.migration_name, names[i])
    assert.equal(row.checksum, sha256(await readFile(join(migrationsDir, row.migration_name, 'migration.sql'))))
    assert.notEqual(row.finished_at, null)
  }
  assert.equal(existsSync(join(dir, 'nested', 'volumes', 'backups')), false, 'nothing to back up in a new file')
})

test('a second migrate applies nothing and makes no backup', async (t) => {
  const dir = await tempDir(t)
  const url = `file:${join(dir, 'sqlite.db')}`
  await migrate(url)

  assert.deepEqual(await migrate(url), { applied: [], backup: null })
  assert.equal(existsSync(join(dir, 'backups')), false)
  const status = await migrationStatus(url)
  assert.deepEqual(status, { applied: await committedMigrations(), pending: [], unknown: [], failed: [], edited: [] })
})

test('status reports every migration pending for a fresh database, without creating the file', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'sqlite.db')

  const status = await migrationStatus(`file:${file}`)

  assert.deepEqual(status, { applied: [], pending: await committedMigrations(), unknown: [], failed: [], edited: [] })
  assert.equal(existsSync(file), false)
})

test('a database ahead of the code (unknown migration) is refused and left unchanged', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'sqlite.db')
  const url = `file:${file}`
  const migrations = await copyOfMigrations(dir)
  await migrate(url, { migrationsDir: migrations })
  withDb(file, (db) => db.prepare(
    'INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)'
  ).run('future-row', 'f'.repeat(64), '2999-01-01T00:00:00.000+00:00', '29990101000000_from_a_newer_release', '2999-01-01T00:00:00.000+00:00'))
  // A pending migration too, so that a migrate that ignored the check would have work to do.
  await mkdir(join(migrations, '29980101000000_add_bio'))
  await writeFile(join(migrations, '29980101000000_add_bio', 'migration.sql'), 'ALTER TABLE "User" ADD COLUMN "bio" TEXT;\n')
  const before = await readFile(file)

  const status = await migrationStatus(url, { migrationsDir: migrations })
  assert.deepEqual(status.unknown, ['29990101000000_from_a_newer_release'])
  assert.deepEqual(status.pending, ['29980101000000_add_bio'])
  await assert.rejects(migrate(url, { migrationsDir: migrations }), (err: unknown) => {
    assert.ok(err instanceof MigrationError)
    assert.match(err.message, /29990101000000_from_a_newer_release/)
    assert.match(err.message, /newer version/)
    return true
  })

  assert.ok(before.equals(await readFile(file)), 'the database file is byte for byte the same')
  assert.equal(columnNames(file, 'User').includes('bio'), false)
  assert.equal(existsSync(join(dir, 'backups')), false)
})

test('a migration that started and never finished is refused', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'sqlite.db')
  const url = `file:${file}`
  const migrations = await copyOfMigrations(dir)
  await mkdir(join(migrations, '29980101000000_broken'))
  // The first statement runs, the second fails: the row stays without finished_at.
  await writeFile(join(migrations, '29980101000000_broken', 'migration.sql'), 'CREATE TABLE "Tmp" (id INTEGER);\nCREATE TABLE "Tmp" (id INTEGER);\n')

  await assert.rejects(migrate(url, { migrationsDir: migrations }), (err: unknown) => {
    assert.ok(err instanceof MigrationError)
    assert.match(err.message, /Migration 29980101000000_broken failed: table "Tmp" already exists/)
    return true
  })
  const status = await migrationStatus(url, { migrationsDir: migrations })
  assert.deepEqual(status.failed, ['29980101000000_broken'])
  assert.deepEqual(status.pending, [])
  await assert.rejects(migrate(url, { migrationsDir: migrations }), (err: unknown) => {
    assert.ok(err instanceof MigrationError)
    assert.match(err.message, /never finished: 29980101000000_broken/)
    return true
  })
})

test('an existing non-empty database is backed up before a new migration is applied', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'volumes', 'sqlite.db')
  const url = `file:${file}`
  const migrations = await copyOfMigrations(dir)
  await migrate(url, { migrationsDir: migrations })
  withDb(file, (db) => db.prepare(
    'INSERT INTO "User" (uid, name, passwordHash, updatedAt) VALUES (?, ?, ?, ?)'
  ).run('ada', 'Ada', 'hash', new Date().toISOString()))
  await mkdir(join(migrations, '29980101000000_add_bio'))
  await writeFile(join(migrations, '29980101000000_add_bio', 'migration.sql'), 'ALTER TABLE "User" ADD COLUMN "bio" TEXT;\n')

  const result = await migrate(url, { migrationsDir: migrations })

  assert.deepEqual(result.applied, ['29980101000000_add_bio'])
  assert.ok(result.backup !== null)
  assert.equal(resolve(result.backup, '..'), join(dir, 'volumes', 'backups'))
  assert.match(basename(result.backup), /^sqlite-\d{14}(-\d+)?\.db$/)
  // The copy is the database as it was: the user, but no bio column and one fewer migration.
  assert.deepEqual(withDb(result.backup, (db) => db.prepare('SELECT uid, hashmap FROM "User"').all()), [{ uid: 'ada', hashmap: '{}' }])
  assert.equal(columnNames(result.backup, 'User').includes('bio'), false)
  assert.ok(columnNames(file, 'User').includes('bio'))
  const count = (path: string): number => withDb(path, (db) => db.prepare<[], { n: number }>('SELECT count(*) AS n FROM _prisma_migrations').get()?.n ?? -1)
  assert.equal(count(result.backup), count(file) - 1)
})

test('backupDir chooses where the copy goes', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'sqlite.db')
  const migrations = await copyOfMigrations(dir)
  await migrate(`file:${file}`, { migrationsDir: migrations })
  await mkdir(join(migrations, '29980101000000_add_bio'))
  await writeFile(join(migrations, '29980101000000_add_bio', 'migration.sql'), 'ALTER TABLE "User" ADD COLUMN "bio" TEXT;\n')

  const { backup } = await migrate(`file:${file}`, { migrationsDir: migrations, backupDir: join(dir, 'elsewhere') })

  assert.ok(backup !== null)
  assert.ok(backup.startsWith(join(dir, 'elsewhere', 'sqlite-')))
  assert.ok(existsSync(backup))
})

test('createMigration writes the schema changes as a new migration, and null when there are none', async (t) => {
  const dir = await tempDir(t)
  const migrations = await copyOfMigrations(dir)
  const schema = join(dir, 'schema.prisma')
  await cp(schemaPath, schema)

  // The committed migrations already describe the committed schema.
  assert.equal(await createMigration({ name: 'nothing', schemaPath: schema, migrationsDir: migrations }), null)

  const original = await readFile(schema, 'utf8')
  const changed = original.replace(/^( +updatedAt .*\n)/m, '$1  bio String?\n  extra Json? @default("{\\"a\\": \\"it\'s\\"}")\n')
  assert.notEqual(changed, original)
  await writeFile(schema, changed)
  const created = await createMigration({ name: 'Add user bio', schemaPath: schema, migrationsDir: migrations })

  assert.ok(created !== null)
  assert.match(basename(created.dir), /^\d{14}_add_user_bio$/)
  assert.equal(await readFile(join(created.dir, 'migration.sql'), 'utf8'), created.sql)
  assert.match(created.sql, /ALTER TABLE "User" ADD COLUMN "bio" TEXT;/)
  // Json defaults come out as quoted literals: the engine alone writes DEFAULT {"a": ...}, which
  // SQLite rejects (prisma/orm#26571).
  assert.ok(created.sql.includes('ALTER TABLE "User" ADD COLUMN "extra" JSONB DEFAULT \'{"a": "it\'\'s"}\';'), created.sql)
  const names = (await readdir(migrations)).filter((name) => name !== 'migration_lock.toml').sort()
  assert.equal(names.at(-1), basename(created.dir), 'the new migration sorts last')

  // The new migration is now part of the history, so there is nothing left to write.
  assert.equal(await createMigration({ name: 'again', schemaPath: schema, migrationsDir: migrations }), null)

  // A change SQLite cannot ALTER rebuilds the table, restating every column's default.
  await writeFile(schema, changed
    .replace(/^( +name +)String$/m, '$1String?')
    .replace(/^( +bio .*\n)/m, '$1  tags Json @default("[\\"new\\"]")\n'))
  const rebuilt = await createMigration({ name: 'optional name', schemaPath: schema, migrationsDir: migrations })
  assert.ok(rebuilt !== null)
  assert.ok(basename(rebuilt.dir) > basename(created.dir), 'made in the same second, still sorts last')
  assert.match(rebuilt.sql, /CREATE TABLE "new_User"/)
  assert.match(rebuilt.sql, /"hashmap" JSONB NOT NULL DEFAULT '\{\}',\n/)
  assert.match(rebuilt.sql, /"tags" JSONB NOT NULL DEFAULT '\["new"\]',\n/)
  assert.ok(rebuilt.sql.includes('"extra" JSONB DEFAULT \'{"a": "it\'\'s"}\'\n);'), 'the last column, without a comma')

  // Both apply, and the defaults work.
  const file = join(dir, 'sqlite.db')
  const { applied } = await migrate(`file:${file}`, { migrationsDir: migrations })
  assert.deepEqual(applied.slice(-2), [basename(created.dir), basename(rebuilt.dir)])
  withDb(file, (db) => db.prepare('INSERT INTO "User" (uid, passwordHash, updatedAt) VALUES (?, ?, ?)').run('ada', 'hash', 'now'))
  assert.deepEqual(withDb(file, (db) => db.prepare('SELECT name, bio, extra, tags, hashmap FROM "User"').get()),
    { name: null, bio: null, extra: '{"a": "it\'s"}', tags: '["new"]', hashmap: '{}' })
})

test('createMigration into an empty folder creates every table and Prisma\'s lockfile', async (t) => {
  const dir = await tempDir(t)
  const migrations = join(dir, 'migrations')

  const created = await createMigration({ name: 'init', schemaPath, migrationsDir: migrations })

  assert.ok(created !== null)
  for (const table of ['User', 'Session', 'AuditEvent']) assert.match(created.sql, new RegExp(`CREATE TABLE "${table}"`))
  assert.ok((await committedMigrations()).length >= 1)
  const lockfile = await readFile(join(migrations, 'migration_lock.toml'), 'utf8')
  assert.equal(lockfile, '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "sqlite"\n')
  assert.equal(lockfile, await readFile(join(migrationsDir, 'migration_lock.toml'), 'utf8'))
})

test('sqliteFilePath resolves file: URLs against the working folder and ignores other URLs', () => {
  assert.equal(sqliteFilePath('file:./instance/volumes/sqlite.db'), resolve(process.cwd(), 'instance/volumes/sqlite.db'))
  assert.equal(sqliteFilePath('file:/abs/path.db'), '/abs/path.db')
  assert.equal(sqliteFilePath('file:/abs/path.db?connection_limit=1'), '/abs/path.db')
  assert.equal(sqliteFilePath('file:///abs/path.db'), '/abs/path.db')
  assert.equal(sqliteFilePath('postgresql://user:pw@localhost:5432/app'), null)
})

test('an unreachable PostgreSQL gets a clear error, without its password, instead of a half-done migration', async () => {
  for (const url of ['postgres://nobody-here:secret@127.0.0.1/app', 'postgresql://nobody-here:secret@127.0.0.1/app']) {
    await assert.rejects(migrate(url), (err: unknown) => {
      assert.ok(err instanceof MigrationError)
      assert.match(err.message, /Cannot read the migration history/)
      assert.doesNotMatch(err.message, /secret/, 'no password in the message')
      return true
    })
    await assert.rejects(migrationStatus(url), MigrationError)
  }
  await assert.rejects(migrate('mysql://user:secret@localhost/app'), (err: unknown) => {
    assert.ok(err instanceof MigrationError)
    assert.doesNotMatch(err.message, /secret/, 'no password in the message')
    return true
  })
})

test('a database folder the app cannot write to is reported in one sentence, not a stack trace', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'migrator-ro-'))
  t.after(async () => { await chmod(dir, 0o700); await rm(dir, { recursive: true, force: true }) })
  // Root ignores file modes, so as root the folder is blocked by a file of the same name instead.
  const asRoot = process.getuid?.() === 0
  if (asRoot) await writeFile(join(dir, 'volumes'), 'a file where the folder should be')
  else await chmod(dir, 0o500)
  const url = `file:${join(dir, 'volumes', 'db.sqlite')}`
  await assert.rejects(migrate(url), (err: Error) =>
    err instanceof MigrationError && new RegExp(`Cannot write to .* \\(${asRoot ? 'ENOTDIR' : 'EACCES'}\\)`).test(err.message))
})
