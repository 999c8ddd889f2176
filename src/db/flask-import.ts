/**
 * Imports the users of a Flask `flask_portfolio` database (its SQLite file) into this app's
 * database, for `npm run import:flask` and the tests.
 *
 * - The Flask file is opened read-only and checked first (a SQLite file, intact, with a `users`
 *   table and the Flask columns); anything wrong is a FlaskImportError and nothing is written.
 * - Every row goes through the app's own rules (users repository `create`): user ids are
 *   normalised (NFKC, trimmed, lower case) and must be valid; names must not be empty. Control
 *   characters in names become spaces, names over the limit are cut, unknown roles become `User`,
 *   bad dates none and broken `_hashmap` JSON `{}`: each reported as a note, not fatal.
 *   A row without a usable password hash is rejected.
 * - The password hash is stored as it is (a Werkzeug hash); sign-in checks it and replaces it
 *   with argon2id the first time the user signs in.
 * - One transaction: a failure half-way leaves the target as it was. User ids already present are
 *   skipped, so running it twice imports nothing twice. A dry run does the same work and rolls back.
 * - Reports never contain a password hash, and values from the file are escaped for terminals.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import Database from 'better-sqlite3'
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts'
import { InputError } from '../lib/errors.ts'
import { showInvisible } from '../lib/visible-text.ts'
import { unsupportedHashReason, type PasswordHasher } from '../plugins/app/password-hasher.ts'
import { createUsersRepository, normalizeUid, type NewUser } from '../plugins/app/users-repository.ts'
import { NAME_CONTROL_CHARS, NAME_MAX, type Role } from '../schemas/users.ts'

/** The columns of the Flask app's `users` table that are imported (`id` is not: ids are new). */
export const FLASK_USER_COLUMNS = ['_uid', '_name', '_password', '_dob', '_hashmap', '_role'] as const

/** A problem with the Flask file or the import as a whole, with a message for the person running it. */
export class FlaskImportError extends Error {
  override name = 'FlaskImportError'
}

export type RowOutcome = 'imported' | 'skipped' | 'rejected'

export interface RowReport {
  /** The row's id in the Flask `users` table. */
  row: number
  /** The user id, normalised as this app stores it (print it with `printable`). */
  uid: string
  outcome: RowOutcome
  /** Why the row was skipped or rejected. */
  reason?: string
  /** The role stored, for imported rows. */
  role?: Role
  /** What was changed to import it (unknown role, bad date, broken JSON, user id case). */
  notes: string[]
}

export interface ImportResult {
  dryRun: boolean
  rows: RowReport[]
  total: number
  imported: number
  skipped: number
  rejected: number
  /** Imported rows that carry notes. */
  withNotes: number
}

export interface ImportOptions {
  /** Validate and report, then roll back: nothing is written. */
  dryRun?: boolean
  /** Called after each row (`done` of `total`), e.g. for a progress bar. Throwing aborts the import. */
  onProgress?: (done: number, total: number) => void
}

interface FlaskRow {
  row: number
  uid: unknown
  name: unknown
  password: unknown
  dob: unknown
  hashmap: unknown
  role: unknown
}

// Prisma's defaults (5 s) suit requests, not a file of many thousand users.
const TRANSACTION_OPTIONS = { maxWait: 10_000, timeout: 30 * 60_000 }
const SQLITE_HEADER = 'SQLite format 3\0'
/** What a row's password is in the repository's eyes: its length rule is for new passwords, and this one is never hashed. */
const KEPT_HASH_PLACEHOLDER = 'imported password hash, kept as it is'

class DryRunRollback extends Error {}

/**
 * A value from the file, fit for a terminal and a log line: as it is when it is a plain user id,
 * else quoted with control and bidirectional characters escaped, and cut to `max` characters.
 */
export function printable (value: string, max = 60): string {
  if (/^[\p{L}\p{N}._-]{1,60}$/u.test(value)) return value
  const cut = value.length > max ? `${value.slice(0, max)}…` : value
  return `"${showInvisible(cut.replace(/["\\]/g, c => `\\${c}`))}"`
}

function explainSqliteError (err: unknown, file: string): FlaskImportError {
  const code = (err as { code?: unknown }).code
  if (code === 'SQLITE_NOTADB') return new FlaskImportError(`${file} is not a SQLite database (or it is encrypted). Nothing was imported.`)
  if (code === 'SQLITE_CORRUPT') return new FlaskImportError(`${file} is damaged (SQLite: "database disk image is malformed"). Copy it again from the Flask server; nothing was imported.`)
  const reason = err instanceof Error ? err.message : String(err)
  return new FlaskImportError(`${file} could not be read (${typeof code === 'string' ? `${code}: ` : ''}${reason}). Nothing was imported.`)
}

/** Opens the Flask file read-only after checking that it is an intact SQLite file with the Flask users table. */
function openFlaskDatabase (file: string): Database.Database {
  let isFile: boolean
  try {
    isFile = statSync(file).isFile()
  } catch {
    throw new FlaskImportError(`${file}: no such file. Pass the path of the Flask app's database (e.g. instance/volumes/sqlite.db).`)
  }
  if (!isFile) throw new FlaskImportError(`${file} is not a file. Pass the path of the Flask app's database (e.g. instance/volumes/sqlite.db).`)
  const header = Buffer.alloc(SQLITE_HEADER.length)
  const fd = openSync(file, 'r')
  try {
    readSync(fd, header, 0, header.length, 0)
  } finally {
    closeSync(fd)
  }
  if (header.toString('latin1') !== SQLITE_HEADER) {
    throw new FlaskImportError(`${file} is not a SQLite database (it does not start with "SQLite format 3"). Nothing was imported.`)
  }

  let db: Database.Database | undefined
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    // A damaged copy (truncated, overwritten) must stop here, not half-way through the rows.
    const problems = db.prepare('PRAGMA quick_check(1)').pluck().all() as string[]
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw new FlaskImportError(`${file} is damaged (SQLite integrity check: ${printable((problems[0] ?? 'no answer').replace(/\s+/g, ' '), 120)}). Copy it again from the Flask server; nothing was imported.`)
    }
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]
    if (!tables.includes('users')) {
      const found = tables.length === 0 ? 'none' : tables.map(t => printable(t, 40)).join(', ')
      throw new FlaskImportError(`${file} has no "users" table (tables: ${found}). Is it the Flask app's database? Nothing was imported.`)
    }
    const columns = new Set(db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('users') as string[])
    const missing = FLASK_USER_COLUMNS.filter(column => !columns.has(column))
    if (missing.length > 0) {
      throw new FlaskImportError(`The "users" table of ${file} lacks ${missing.length === 1 ? 'the column' : 'the columns'} ${missing.join(', ')} ` +
        `of the Flask schema (${FLASK_USER_COLUMNS.join(', ')}). Nothing was imported.`)
    }
    return db
  } catch (err) {
    db?.close()
    throw err instanceof FlaskImportError ? err : explainSqliteError(err, file)
  }
}

/** The number of rows in the Flask `users` table, after the same checks as an import. */
export function countFlaskUsers (file: string): number {
  const db = openFlaskDatabase(file)
  try {
    return readOrExplain(file, () => db.prepare('SELECT count(*) FROM users').pluck().get() as number)
  } finally {
    db.close()
  }
}

/** SQLite columns hold any type: text and numbers read as text; NULL and BLOBs do not. */
function asText (value: unknown): string | null {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  return null
}

function roleOf (value: unknown, notes: string[]): Role {
  // Exactly as the Flask app compared it: only "Admin" was an Admin.
  if (value === 'Admin' || value === 'User') return value
  const shown = asText(value)
  notes.push(`unknown role ${shown === null ? '(none)' : printable(shown, 30)}: imported as User`)
  return 'User'
}

function dobOf (value: unknown, notes: string[]): string | null {
  if (value === null || value === '') return null
  const text = asText(value)
  // SQLAlchemy's Date column stores `YYYY-MM-DD` in SQLite.
  if (text !== null && /^\d{4}-\d{2}-\d{2}$/.test(text)) return text
  notes.push(`date of birth ${text === null ? '(not text)' : printable(text, 30)} is not a date (YYYY-MM-DD): imported as none`)
  return null
}

function hashmapOf (value: unknown, notes: string[]): Record<string, unknown> {
  if (value === null) return {}
  const text = asText(value)
  let parsed: unknown
  try {
    if (text === null) throw new TypeError('not text')
    parsed = JSON.parse(text)
  } catch {
    notes.push('extra attributes (_hashmap) are not valid JSON: imported as {}')
    return {}
  }
  if (parsed === null) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    notes.push('extra attributes (_hashmap) are not a JSON object: imported as {}')
    return {}
  }
  return parsed as Record<string, unknown>
}

// The users repository's name rule (schemas/users.ts), every run of them at once.
const NAME_CONTROL_RUNS = new RegExp(`${NAME_CONTROL_CHARS}+`, 'gu')

/**
 * A Flask name made fit for the app's rule rather than losing the user over it: control
 * characters become spaces, and a name longer than the limit (Flask allowed 255) is cut.
 */
function nameOf (raw: string, notes: string[]): string {
  let name = raw.normalize('NFC').trim()
  const cleaned = name.replace(NAME_CONTROL_RUNS, ' ').trim()
  if (cleaned !== name) {
    name = cleaned
    notes.push('control characters in the name replaced by spaces')
  }
  if (name.length > NAME_MAX) {
    let cut = ''
    for (const char of name) {
      if (cut.length + char.length > NAME_MAX) break
      cut += char
    }
    name = cut.trim()
    notes.push(`name cut to its first ${NAME_MAX} characters`)
  }
  return name
}

/** The repository stores what its hasher returns: here, the hash the Flask app already made. */
function keepingHash (passwordHash: string): PasswordHasher {
  return {
    hash: async () => passwordHash,
    verify: async () => false,
    verifyDummy: async () => {},
    needsRehash: () => true,
    unsupportedReason: unsupportedHashReason
  }
}

type RowVerdict = { outcome: 'rejected', reason: string } | { outcome: 'skipped', reason: string } | { outcome: 'import', user: NewUser, hash: string }

/** The checks that need no database: text columns, a usable hash, a valid and new user id. */
function examine (row: FlaskRow, uid: string, notes: string[], existing: Set<string>, seen: Map<string, number>): RowVerdict {
  const rawUid = asText(row.uid)
  if (rawUid === null) return { outcome: 'rejected', reason: 'user id (_uid) is empty or not text' }
  if (uid !== rawUid) notes.push(`user id stored as ${printable(uid)} (was ${printable(rawUid)}); sign-in ignores case`)
  const name = asText(row.name)
  if (name === null) return { outcome: 'rejected', reason: 'name (_name) is empty or not text' }
  const hash = asText(row.password)
  if (hash === null || hash === '') return { outcome: 'rejected', reason: 'no password hash (_password is empty)' }
  const problem = unsupportedHashReason(hash)
  if (problem !== null) return { outcome: 'rejected', reason: `password hash cannot be used: ${problem}` }
  if (existing.has(uid)) return { outcome: 'skipped', reason: 'user id already present' }
  const first = seen.get(uid)
  if (first !== undefined) return { outcome: 'rejected', reason: `same user id as row ${first} once normalised (case and Unicode form are ignored); rename one in Flask first` }
  return {
    outcome: 'import',
    hash,
    user: { uid, name: nameOf(name, notes), password: KEPT_HASH_PLACEHOLDER, role: roleOf(row.role, notes), dob: dobOf(row.dob, notes), hashmap: hashmapOf(row.hashmap, notes) }
  }
}

/**
 * Stores one row through the repository's rules. A date or hashmap they refuse is dropped with
 * a note and the row tried again (validation runs before any write); other rule breaks reject it.
 */
async function store (tx: Prisma.TransactionClient, prisma: PrismaClient, user: NewUser, hash: string, notes: string[]): Promise<string | null> {
  const repository = createUsersRepository({ prisma, passwordHasher: keepingHash(hash) })
  let input = user
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await repository.create(input, tx)
      return null
    } catch (err) {
      if (!(err instanceof InputError)) throw explainWriteError(err)
      const { dob, hashmap, ...fatal } = err.fields
      if (Object.keys(fatal).length > 0) return Object.values(fatal).join(' ')
      if (dob !== undefined) notes.push(`date of birth ${printable(String(input.dob), 30)} refused (${dob}): imported as none`)
      if (hashmap !== undefined) notes.push(`extra attributes (_hashmap) refused (${hashmap}): imported as {}`)
      input = { ...input, ...(dob === undefined ? {} : { dob: null }), ...(hashmap === undefined ? {} : { hashmap: {} }) }
    }
  }
  // The second attempt had no date or hashmap left to refuse.
  throw new Error('unreachable: the repository refused a row without date or hashmap')
}

/** A failure of the target database, described without the data Prisma may quote (never a hash). */
export function explainWriteError (err: unknown): FlaskImportError {
  const code = (err as { code?: unknown }).code
  const message = err instanceof Error ? err.message : ''
  const what = code === 'APP_UID_TAKEN'
    ? 'a user id was taken while importing (a sign-up at the same time?); run the import again'
    : code === 'P1008' || /database is locked|SQLITE_BUSY|SocketTimeout/i.test(message)
      ? 'the target database is busy (another process holds a write lock) or did not answer in time; try again'
      : code === 'P2021' || /no such table/i.test(message)
        ? 'the target database has no users table yet; run `npm run db:migrate` first'
        : `writing to the target database failed${typeof code === 'string' ? ` (${code})` : ''}`
  return new FlaskImportError(`Import stopped: ${what}. Nothing was written.`)
}

function readOrExplain<T> (file: string, read: () => T): T {
  try {
    return read()
  } catch (err) {
    throw explainSqliteError(err, file)
  }
}

/** The Flask rows in id order, read one at a time; a read error is a FlaskImportError. */
function * readRows (db: Database.Database, file: string): Generator<FlaskRow> {
  const rows = readOrExplain(file, () => db.prepare(`SELECT rowid AS row, _uid AS uid, _name AS name, _password AS password,
    _dob AS dob, _hashmap AS hashmap, _role AS role FROM users ORDER BY rowid`).iterate() as IterableIterator<FlaskRow>)
  try {
    while (true) {
      const next = readOrExplain(file, () => rows.next())
      if (next.done === true) return
      yield next.value
    }
  } finally {
    // An import that stops early must free the statement, or the file cannot be closed.
    rows.return?.()
  }
}

/**
 * Imports the users of the Flask database `file` into `prisma`'s database, in one transaction.
 * Throws FlaskImportError (nothing written) when the file is unusable or a write fails.
 */
export async function importFlaskUsers (prisma: PrismaClient, file: string, options: ImportOptions = {}): Promise<ImportResult> {
  const dryRun = options.dryRun ?? false
  const db = openFlaskDatabase(file)
  const rows: RowReport[] = []
  try {
    const total = readOrExplain(file, () => db.prepare('SELECT count(*) FROM users').pluck().get() as number)
    // Errors from inside the transaction are already explained; others (commit, timeout) are not.
    let failure: unknown
    try {
      await prisma.$transaction(async (tx) => {
        try {
          // A write first takes SQLite's write lock, waiting for it (busy timeout) if the server
          // holds it. Reading first would pin a snapshot that cannot become a write transaction
          // once the server has written meanwhile: SQLITE_BUSY at once, no waiting (seen in e2e).
          await tx.$executeRaw`UPDATE "User" SET "id" = "id" WHERE 1 = 0`.catch((err: unknown) => { throw explainWriteError(err) })
          const existing = new Set((await tx.user.findMany({ select: { uid: true } }).catch((err: unknown) => { throw explainWriteError(err) })).map(u => u.uid))
          const seen = new Map<string, number>()
          let done = 0
          for (const row of readRows(db, file)) {
            const notes: string[] = []
            const uid = normalizeUid(asText(row.uid) ?? '')
            const verdict = examine(row, uid, notes, existing, seen)
            if (verdict.outcome === 'import') {
              const refused = await store(tx, prisma, verdict.user, verdict.hash, notes)
              if (refused === null) {
                seen.set(uid, row.row)
                rows.push({ row: row.row, uid, outcome: 'imported', role: verdict.user.role, notes })
              } else {
                rows.push({ row: row.row, uid, outcome: 'rejected', reason: refused, notes })
              }
            } else {
              // A skipped row changes nothing, so nothing about it needs noting.
              rows.push({ row: row.row, uid, outcome: verdict.outcome, reason: verdict.reason, notes: verdict.outcome === 'skipped' ? [] : notes })
            }
            options.onProgress?.(++done, total)
          }
        } catch (err) {
          failure = err
          throw err
        }
        if (dryRun) throw new DryRunRollback()
      }, TRANSACTION_OPTIONS)
    } catch (err) {
      if (err instanceof DryRunRollback) {
        // The dry run's rollback: the outcome is the report.
      } else {
        throw err === failure ? err : explainWriteError(err)
      }
    }
    const count = (outcome: RowOutcome) => rows.filter(r => r.outcome === outcome).length
    return {
      dryRun,
      rows,
      total: rows.length,
      imported: count('imported'),
      skipped: count('skipped'),
      rejected: count('rejected'),
      withNotes: rows.filter(r => r.outcome === 'imported' && r.notes.length > 0).length
    }
  } finally {
    db.close()
  }
}
