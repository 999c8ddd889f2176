import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { createPrismaClient } from '../../src/db/client.ts'
import { FlaskImportError, importFlaskUsers, printable } from '../../src/db/flask-import.ts'
import { build, freshDatabase, postgresUrl, testEnv } from '../helper.ts'
import { createUser, snapshot } from '../factories.ts'

// The Flask sample database sits next to the repository (../shared/fixtures in CI and here).
// Tests read copies of it only: the original is never opened for writing.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const FIXTURE = resolve(ROOT, '../shared/fixtures/flask-portfolio-sample.db')

const FLASK_SCHEMA = 'CREATE TABLE "users" (id INTEGER NOT NULL, _name VARCHAR(255) NOT NULL, _uid VARCHAR(255) NOT NULL, ' +
  '_password VARCHAR(255) NOT NULL, _dob DATE, _hashmap JSON, _role VARCHAR(20) NOT NULL, PRIMARY KEY (id), UNIQUE (_uid))'
const ADA_HASH = 'pbkdf2:sha256:260000$4r1ZF7rgTF$4a0a9b63bf9b3c9b85ba7c8577e24e41e2748a98c88db5e4099274517c8913cb'

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

function tempDir (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'flask-import-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A writable copy of the fixture in a temporary folder. */
function fixtureCopy (t: TestContext): string {
  const file = join(tempDir(t), 'sqlite.db')
  copyFileSync(FIXTURE, file)
  chmodSync(file, 0o600)
  return file
}

interface FlaskRow { uid: unknown, name?: unknown, password?: unknown, dob?: unknown, hashmap?: unknown, role?: unknown }

/** A Flask-schema database with the given rows (or another schema). */
function flaskDatabase (t: TestContext, rows: FlaskRow[], schema = FLASK_SCHEMA): string {
  const file = join(tempDir(t), 'flask.db')
  const db = new Database(file)
  try {
    db.exec(schema)
    const insert = rows.length === 0 ? null : db.prepare('INSERT INTO users (_uid, _name, _password, _dob, _hashmap, _role) VALUES (?, ?, ?, ?, ?, ?)')
    for (const row of rows) insert!.run(row.uid, row.name ?? 'Someone', row.password ?? ADA_HASH, row.dob ?? null, row.hashmap ?? null, row.role ?? 'User')
  } finally {
    db.close()
  }
  return file
}

test('imports every fixture user with its role, date of birth, extra attributes and Werkzeug hash', async (t) => {
  const app = await build(t)
  const before = sha256(FIXTURE)
  const file = fixtureCopy(t)
  const result = await importFlaskUsers(app.prisma, file)

  assert.deepEqual({ ...result, rows: undefined }, { dryRun: false, rows: undefined, total: 7, imported: 7, skipped: 0, rejected: 0, withNotes: 1 })
  assert.deepEqual(result.rows.map(r => [r.row, r.uid, r.outcome, r.role]), [
    [1, 'ada', 'imported', 'Admin'], [2, 'alan', 'imported', 'User'], [3, 'kj', 'imported', 'User'],
    [4, 'ewd', 'imported', 'User'], [5, 'margaret.h', 'imported', 'User'], [6, 'mallory', 'imported', 'User'],
    [7, 'jose', 'imported', 'User']
  ])
  assert.deepEqual(result.rows[4].notes, ['user id stored as margaret.h (was Margaret.H); sign-in ignores case'])

  const users = await app.prisma.user.findMany({ orderBy: { id: 'asc' } })
  const byUid = new Map(users.map(u => [u.uid, u]))
  assert.deepEqual([...byUid.keys()], ['ada', 'alan', 'kj', 'ewd', 'margaret.h', 'mallory', 'jose'])
  const ada = byUid.get('ada')!
  assert.equal(ada.name, 'Ada Lovelace')
  assert.equal(ada.role, 'Admin')
  assert.equal(ada.dob?.toISOString(), '1815-12-10T00:00:00.000Z')
  assert.deepEqual(ada.hashmap, { job: 'mathematician', company: 'Analytical Engine' })
  assert.equal(ada.passwordHash, ADA_HASH, 'the Werkzeug hash is kept as it is until the first sign-in')
  const ewd = byUid.get('ewd')!
  assert.equal(ewd.dob, null)
  assert.deepEqual(ewd.hashmap, {})
  assert.match(ewd.passwordHash, /^pbkdf2:sha1:1000\$/)
  assert.match(byUid.get('margaret.h')!.passwordHash, /^scrypt:32768:8:1\$/)
  const mallory = byUid.get('mallory')!
  assert.equal(mallory.name, '<b>Bob</b> & "Eve"')
  assert.deepEqual(mallory.hashmap, { note: '<script>alert(1)</script>' })
  assert.equal(byUid.get('jose')!.name, 'José Ñúñez')
  assert.ok(users.every(u => u.role === (u.uid === 'ada' ? 'Admin' : 'User')))

  assert.equal(sha256(FIXTURE), before, 'the original fixture is unchanged')
})

test('the source file is opened read-only: the copy imported from is unchanged', async (t) => {
  const app = await build(t)
  const file = fixtureCopy(t)
  const before = sha256(file)
  chmodSync(file, 0o400)
  await importFlaskUsers(app.prisma, file)
  assert.equal(sha256(file), before)
})

test('a dry run reports what would happen and writes nothing', async (t) => {
  const app = await build(t)
  await createUser(app, { uid: 'kj' })
  const before = await snapshot(app)
  const result = await importFlaskUsers(app.prisma, fixtureCopy(t), { dryRun: true })
  assert.equal(result.dryRun, true)
  assert.deepEqual([result.imported, result.skipped, result.rejected], [6, 1, 0])
  assert.deepEqual(await snapshot(app), before)
})

test('running it twice imports nothing twice: the second run skips every row as already present', async (t) => {
  const app = await build(t)
  const file = fixtureCopy(t)
  await importFlaskUsers(app.prisma, file)
  const before = await snapshot(app)
  const again = await importFlaskUsers(app.prisma, file)
  assert.deepEqual([again.total, again.imported, again.skipped, again.rejected], [7, 0, 7, 0])
  assert.ok(again.rows.every(r => r.outcome === 'skipped' && r.reason === 'user id already present' && r.notes.length === 0))
  assert.deepEqual(await snapshot(app), before)
})

test('a user id already taken in this app is skipped and its account left as it is', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app, { uid: 'Ada', name: 'Another Ada' })
  const result = await importFlaskUsers(app.prisma, fixtureCopy(t))
  assert.deepEqual(result.rows[0], { row: 1, uid: 'ada', outcome: 'skipped', reason: 'user id already present', notes: [] })
  assert.deepEqual(await app.usersRepository.findById(user.id), user)
  assert.equal(result.imported, 6)
})

/** Ways a copied file breaks, and what the importer must say about each. */
const DAMAGE: Array<[string, (file: string) => void, RegExp]> = [
  ['truncated to half', file => truncateSync(file, 16384), /is damaged/],
  ['truncated inside the first page', file => truncateSync(file, 1000), /is damaged/],
  ['the users table overwritten', file => overwrite(file, 5 * 4096, 4096), /is damaged \(SQLite integrity check/],
  ['the users index overwritten', file => overwrite(file, 6 * 4096, 4096), /is damaged \(SQLite integrity check/],
  ['the header overwritten', file => overwrite(file, 0, 16), /is not a SQLite database/],
  ['the schema page scribbled on', file => overwrite(file, 100, 100), /is damaged/],
  ['an empty file', file => truncateSync(file, 0), /is not a SQLite database/],
  ['a text file', file => writeFileSync(file, 'uid,name,password\nada,Ada,x\n'), /is not a SQLite database/]
]

function overwrite (file: string, offset: number, length: number): void {
  const fd = openSync(file, 'r+')
  try {
    writeSync(fd, Buffer.alloc(length, 0x5a), 0, length, offset)
  } finally {
    closeSync(fd)
  }
}

test('a damaged copy stops with a clear error and writes nothing', async (t) => {
  const app = await build(t)
  await createUser(app)
  const before = await snapshot(app)
  for (const [label, damage, message] of DAMAGE) {
    const file = fixtureCopy(t)
    damage(file)
    await assert.rejects(importFlaskUsers(app.prisma, file), (err: Error) => {
      assert.ok(err instanceof FlaskImportError, `${label}: ${err.name}`)
      assert.match(err.message, message, label)
      assert.match(err.message, /[Nn]othing was imported/, label)
      return true
    })
    await assert.rejects(importFlaskUsers(app.prisma, file, { dryRun: true }), FlaskImportError)
    assert.deepEqual(await snapshot(app), before, label)
  }
})

test('a missing file, a folder, a database without users or without a Flask column is refused by name', async (t) => {
  const app = await build(t)
  const dir = tempDir(t)
  await assert.rejects(importFlaskUsers(app.prisma, join(dir, 'nope.db')), /nope\.db: no such file/)
  await assert.rejects(importFlaskUsers(app.prisma, dir), /is not a file/)
  const noUsers = flaskDatabase(t, [], 'CREATE TABLE users_old (id INTEGER); CREATE TABLE posts (id INTEGER)')
  await assert.rejects(importFlaskUsers(app.prisma, noUsers), /has no "users" table \(tables: posts, users_old\)/)
  const noRole = flaskDatabase(t, [], 'CREATE TABLE users (id INTEGER PRIMARY KEY, _name TEXT, _uid TEXT, _password TEXT, _dob DATE, _hashmap JSON)')
  await assert.rejects(importFlaskUsers(app.prisma, noRole), (err: Error) => {
    assert.ok(err instanceof FlaskImportError)
    assert.match(err.message, /lacks the column _role of the Flask schema/)
    return true
  })
  const old = flaskDatabase(t, [], 'CREATE TABLE users (id INTEGER PRIMARY KEY, _name TEXT, _uid TEXT, _password TEXT)')
  await assert.rejects(importFlaskUsers(app.prisma, old), /lacks the columns _dob, _hashmap, _role/)
  assert.equal(await app.prisma.user.count(), 0)
})

test('each row is validated: rule breaks are rejected with the reason; odd roles, dates and JSON are imported with a note', async (t) => {
  const app = await build(t)
  const file = flaskDatabase(t, [
    { uid: 'ok', name: 'Fine Row', dob: '1990-02-28', hashmap: '{"a": [1, 2]}', role: 'Admin' },
    { uid: 'boss', role: 'Superuser' },
    { uid: 'lower', role: 'admin' },
    { uid: 'baddate', dob: '1815-13-45' },
    { uid: 'future', dob: '2999-01-01' },
    { uid: 'notadate', dob: 'yesterday' },
    { uid: 'broken', hashmap: '{"job": "engineer"' },
    { uid: 'array', hashmap: '[1, 2, 3]' },
    { uid: 'nulljson', hashmap: 'null' },
    { uid: 'deep', hashmap: JSON.stringify({ a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } }) },
    { uid: 'nohash', password: '' },
    { uid: 'plainsha', password: 'sha256$abc$' + 'ab'.repeat(32) },
    { uid: 'bcrypt', password: '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW' },
    { uid: 'costly', password: 'pbkdf2:sha256:99000000$abc$' + 'ab'.repeat(32) },
    { uid: 'x' },
    { uid: '<script>' },
    { uid: 'evil\u001b[31m' },
    { uid: '  ' },
    { uid: 'noname', name: '' },
    { uid: 'ctrl', name: 'Bad\u0007\nName' },
    { uid: 'long', name: 'é'.repeat(99) + '🦤🦤' },
    { uid: 'OK' },
    { uid: 42n, name: 1234n },
    { uid: 'numdob', dob: 19900101n },
    { uid: 'blobmap', hashmap: Buffer.from('{}') }
  ])
  const result = await importFlaskUsers(app.prisma, file)
  const byRow = (uid: string) => result.rows.find(r => r.uid === uid)!

  assert.deepEqual(byRow('ok'), { row: 1, uid: 'ok', outcome: 'imported', role: 'Admin', notes: [] })
  assert.deepEqual(byRow('boss').notes, ['unknown role Superuser: imported as User'])
  assert.equal(byRow('boss').role, 'User')
  assert.equal(byRow('lower').role, 'User', 'only "Admin" was an Admin in Flask')
  assert.deepEqual(byRow('baddate').notes, ['date of birth 1815-13-45 refused (Date of birth: a real date between 1800 and today.): imported as none'])
  assert.match(byRow('future').notes[0], /date of birth 2999-01-01 refused/)
  assert.deepEqual(byRow('notadate').notes, ['date of birth yesterday is not a date (YYYY-MM-DD): imported as none'])
  assert.deepEqual(byRow('broken').notes, ['extra attributes (_hashmap) are not valid JSON: imported as {}'])
  assert.deepEqual(byRow('array').notes, ['extra attributes (_hashmap) are not a JSON object: imported as {}'])
  assert.deepEqual(byRow('nulljson').notes, [])
  assert.match(byRow('deep').notes[0], /extra attributes \(_hashmap\) refused \(Extra attributes: at most 8 levels/)
  for (const uid of ['boss', 'lower', 'baddate', 'future', 'notadate', 'broken', 'array', 'nulljson', 'deep', 'ctrl', 'long']) assert.equal(byRow(uid).outcome, 'imported', uid)

  assert.deepEqual(byRow('nohash'), { row: 11, uid: 'nohash', outcome: 'rejected', reason: 'no password hash (_password is empty)', notes: [] })
  assert.equal(byRow('plainsha').reason, 'password hash cannot be used: single-round sha256 digest (too weak to accept)')
  assert.equal(byRow('bcrypt').reason, 'password hash cannot be used: bcrypt hash (not a Werkzeug format)')
  assert.equal(byRow('costly').reason, 'password hash cannot be used: pbkdf2 iteration count above 5000000')
  for (const uid of ['x', '<script>', 'evil\u001b[31m', '']) assert.match(byRow(uid).reason!, /^User id: 2 to 40 letters or digits/, uid)
  assert.match(byRow('noname').reason!, /^Name: 1 to 100 characters/)
  assert.deepEqual(byRow('ctrl').notes, ['control characters in the name replaced by spaces'])
  assert.deepEqual(byRow('long').notes, ['name cut to its first 100 characters'])
  assert.deepEqual(result.rows.find(r => r.row === 22), {
    row: 22, uid: 'ok', outcome: 'rejected', reason: 'same user id as row 1 once normalised (case and Unicode form are ignored); rename one in Flask first', notes: ['user id stored as ok (was OK); sign-in ignores case']
  })
  assert.equal(byRow('42').outcome, 'imported', 'numbers in text columns are read as text')
  assert.deepEqual(byRow('numdob').notes, ['date of birth 19900101 is not a date (YYYY-MM-DD): imported as none'])
  assert.deepEqual(byRow('blobmap').notes, ['extra attributes (_hashmap) are not valid JSON: imported as {}'])

  assert.deepEqual([result.total, result.imported, result.skipped, result.rejected, result.withNotes], [25, 15, 0, 10, 12])
  const stored = await app.prisma.user.findMany({ orderBy: { id: 'asc' } })
  assert.deepEqual(stored.map(u => u.uid), result.rows.filter(r => r.outcome === 'imported').map(r => r.uid))
  assert.equal(stored.find(u => u.uid === 'baddate')!.dob, null)
  assert.equal(stored.find(u => u.uid === '42')!.name, '1234')
  assert.equal(stored.find(u => u.uid === 'ctrl')!.name, 'Bad Name')
  assert.equal(stored.find(u => u.uid === 'long')!.name, 'é'.repeat(99), 'cut between characters, never inside one')
  assert.deepEqual(stored.find(u => u.uid === 'broken')!.hashmap, {})
  assert.deepEqual(stored.find(u => u.uid === 'ok')!.hashmap, { a: [1, 2] })

  // Nothing of a hash is ever reported; values from the file are printed escaped.
  const report = JSON.stringify(result)
  for (const secret of ['4r1ZF7rgTF', '4a0a9b63', 'R9h/cIPz', 'abab']) assert.ok(!report.includes(secret), secret)
  assert.equal(printable('evil\u001b[31m'), '"evil\\u{1B}[31m"')
  assert.equal(printable('rtl\u202eevil'), '"rtl\\u{202E}evil"')
  assert.equal(printable('margaret.h'), 'margaret.h')
})

test('a failure half-way leaves the target database as it was (one transaction)', async (t) => {
  const app = await build(t)
  await createUser(app)
  const before = await snapshot(app)
  await assert.rejects(importFlaskUsers(app.prisma, fixtureCopy(t), {
    onProgress (done) {
      if (done === 4) throw new Error('the disk is full')
    }
  }), /the disk is full/)
  assert.deepEqual(await snapshot(app), before, 'the rows written before the failure were rolled back')
  // And the import then runs from the start.
  assert.equal((await importFlaskUsers(app.prisma, fixtureCopy(t))).imported, 7)
})

test('the import:flask script prints a report per row and a summary, writes nothing on a dry run, exits 1 on a bad file', async (t) => {
  const { file: target } = await freshDatabase()
  t.after(() => { for (const suffix of ['', '-wal', '-shm']) rmSync(target + suffix, { force: true }) })
  const cli = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/import-flask.ts', ...args], {
        cwd: ROOT,
        env: { ...process.env, ...testEnv({ DATABASE_URL: `file:${target}` }) }
      })
      return { code: 0, stdout, stderr }
    } catch (err) {
      const { code, stdout, stderr } = err as { code: number, stdout: string, stderr: string }
      return { code, stdout, stderr }
    }
  }
  const users = async () => {
    const prisma = await createPrismaClient(`file:${target}`)
    try {
      return await prisma.user.count()
    } finally {
      await prisma.$disconnect()
    }
  }
  const copy = fixtureCopy(t)

  const dry = await cli(copy, '--dry-run')
  assert.equal(dry.code, 0, dry.stderr)
  assert.match(dry.stdout, /^row 1 {2}ada +would be imported as Admin$/m)
  assert.match(dry.stdout, /^ {7}note: user id stored as margaret\.h \(was Margaret\.H\); sign-in ignores case$/m)
  assert.match(dry.stdout, /^7 rows: 7 would be imported \(1 of them with notes, see above\), 0 skipped \(already present\), 0 rejected\.\nDry run: nothing was written\.$/m)
  assert.equal(await users(), 0)

  const real = await cli(copy)
  assert.equal(real.code, 0, real.stderr)
  assert.match(real.stdout, /^row 7 {2}jose +imported as User$/m)
  assert.match(real.stdout, /^7 rows: 7 imported \(1 of them with notes, see above\), 0 skipped/m)
  assert.equal(await users(), 7)
  for (const output of [dry.stdout, dry.stderr, real.stdout, real.stderr]) assert.doesNotMatch(output, /pbkdf2:|scrypt:|4r1ZF7rgTF/)

  truncateSync(copy, 16384)
  const damaged = await cli(copy)
  assert.equal(damaged.code, 1)
  assert.match(damaged.stderr, /^import:flask: .*sqlite\.db is damaged .*nothing was imported\.$/m)
  assert.equal(await users(), 7)
})

test('an import while the server is writing waits for the write lock instead of failing (SQLite)', { skip: postgresUrl === null ? false : 'SQLite locking: runs in the SQLite suite' }, async (t) => {
  const { config, file: dbFile } = await freshDatabase()
  const prisma = await createPrismaClient(config.databaseUrl)
  t.after(() => prisma.$disconnect())
  // Another process (the server) holds the write lock for 400 ms, then commits a write. The
  // import runs in this process meanwhile; a read-then-write transaction failed at once here.
  const holder = `
    const db = new (require('better-sqlite3'))(process.argv[1], { timeout: 5000 })
    db.exec('CREATE TABLE IF NOT EXISTS scratch (x INTEGER)')
    db.exec('BEGIN IMMEDIATE'); db.prepare('INSERT INTO scratch VALUES (1)').run()
    process.stdout.write('locked\\n')
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400)
    db.exec('COMMIT'); db.close()`
  const child = execFile(process.execPath, ['-e', holder, dbFile], { cwd: resolve(fileURLToPath(new URL('../..', import.meta.url))) })
  const finished = new Promise<void>((resolve, reject) => child.on('exit', code => code === 0 ? resolve() : reject(new Error(`lock holder exited ${code}`))))
  await new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => { if (chunk.toString().includes('locked')) resolve() }))
  const result = await importFlaskUsers(prisma, fixtureCopy(t))
  await finished
  assert.equal(result.imported, 7)
})
