/**
 * `npm run import:flask -- <path to the Flask app's sqlite.db> [--dry-run]`: imports the users of
 * a `flask_portfolio` deployment into the database this app is configured for (DATABASE_URL,
 * through src/config.ts and `.env`). See src/db/flask-import.ts for the rules and README
 * "Coming from Flask".
 *
 * Prints one line per row (imported, skipped, rejected, with notes) and a summary on stdout; a
 * progress bar on stderr when it is a terminal (plain lines every 10 % otherwise) for large files.
 * Exit status 0 when the import ran (rejected rows included), 1 when it did not (nothing written).
 */
import { realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../src/config.ts'
import { createPrismaClient } from '../src/db/client.ts'
import { FlaskImportError, countFlaskUsers, explainWriteError, importFlaskUsers, printable, type ImportResult, type RowReport } from '../src/db/flask-import.ts'
import { MigrationError, migrate, migrationStatus, sqliteFilePath } from '../src/db/migrator.ts'

const USAGE = 'Usage: npm run import:flask -- <path to the Flask app\'s sqlite.db> [--dry-run]'
/** Below this many rows the import takes a moment: no progress display. */
const LARGE_FILE_ROWS = 500

class UsageError extends Error {}

function commandLine (): { file: string, dryRun: boolean } {
  let parsed
  try {
    parsed = parseArgs({ allowPositionals: true, options: { 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } })
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`)
  }
  if (parsed.values.help === true) {
    console.log(USAGE)
    process.exit(0)
  }
  if (parsed.positionals.length !== 1) throw new UsageError(USAGE)
  return { file: resolve(parsed.positionals[0]), dryRun: parsed.values['dry-run'] === true }
}

/** A bar redrawn in place on a terminal; elsewhere (CI logs, files) a line every 10 %. */
function progressDisplay (total: number): { update: (done: number) => void, end: () => void } {
  const out = process.stderr
  if (total < LARGE_FILE_ROWS) return { update: () => {}, end: () => {} }
  if (out.isTTY) {
    let last = 0
    const draw = (done: number) => {
      const width = 30
      const filled = Math.round(width * done / total)
      out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(100 * done / total)}% ${done}/${total} rows`)
    }
    return {
      update (done) {
        const now = Date.now()
        if (now - last < 100 && done < total) return
        last = now
        draw(done)
      },
      end: () => out.write('\r\x1b[2K')
    }
  }
  let nextTenth = 1
  return {
    update (done) {
      while (done >= total * nextTenth / 10) {
        out.write(`import:flask: ${done} of ${total} rows read (${nextTenth * 10} %)\n`)
        nextTenth++
      }
    },
    end: () => {}
  }
}

const shownUid = (row: RowReport) => row.uid === '' ? '(empty user id)' : printable(row.uid)

function rowLines (row: RowReport, dryRun: boolean, widths: { row: number, uid: number }): string[] {
  const head = `row ${String(row.row).padStart(widths.row)}  ${shownUid(row).padEnd(widths.uid)}  `
  const line = row.outcome === 'imported'
    ? `${head}${dryRun ? 'would be imported' : 'imported'} as ${row.role ?? 'User'}`
    : `${head}${row.outcome}: ${row.reason ?? ''}`
  return [line, ...row.notes.map(note => `${' '.repeat(widths.row + 6)}note: ${note}`)]
}

function summary (result: ImportResult): string {
  const imported = result.dryRun ? `${result.imported} would be imported` : `${result.imported} imported`
  const notes = result.withNotes > 0 ? ` (${result.withNotes} of them with notes, see above)` : ''
  return `${result.total} ${result.total === 1 ? 'row' : 'rows'}: ${imported}${notes}, ${result.skipped} skipped (already present), ${result.rejected} rejected.`
}

async function main (): Promise<void> {
  const { file, dryRun } = commandLine()
  const config = loadConfig(process.env, { dotenv: true })
  const target = sqliteFilePath(config.databaseUrl)
  // Never print a DATABASE_URL that is not a file: it may carry a password.
  const targetName = target ?? 'the database of DATABASE_URL'
  if (target !== null && target !== ':memory:') {
    let same = false
    try {
      same = realpathSync(target) === realpathSync(file)
    } catch {}
    if (same) throw new FlaskImportError(`${file} is this app's own database (DATABASE_URL). Pass the Flask app's database instead.`)
  }

  // The Flask file first: a bad file stops here, before the target is touched at all.
  const total = countFlaskUsers(file)
  console.log(`Flask database: ${file} (${total} ${total === 1 ? 'user' : 'users'})`)
  console.log(`Into: ${targetName}${dryRun ? ' (dry run: nothing will be written)' : ''}`)

  const status = await migrationStatus(config.databaseUrl)
  if (status.unknown.length > 0 || status.failed.length > 0) {
    throw new MigrationError('The target database was migrated by another version of this app (or a migration failed). Run `npm run db:migrate` to see why; nothing was imported.')
  }
  if (status.pending.length > 0) {
    if (dryRun) throw new MigrationError(`The target database is not set up yet (${status.pending.length} migrations pending). A dry run writes nothing, so it does not set it up: run \`npm run db:migrate\` (or start the app once) first.`)
    if (!config.migrateOnStart) throw new MigrationError(`The target database has ${status.pending.length} pending migrations and MIGRATE_ON_START is off: run \`npm run db:migrate\` first.`)
    // As the server does at start in this configuration.
    const { applied } = await migrate(config.databaseUrl)
    console.log(`Set up the target database (${applied.length} migrations applied).`)
  }

  const prisma = await createPrismaClient(config.databaseUrl).catch((err: unknown) => { throw explainWriteError(err) })
  const progress = progressDisplay(total)
  let result: ImportResult
  try {
    result = await importFlaskUsers(prisma, file, { dryRun, onProgress: done => progress.update(done) })
  } finally {
    progress.end()
    await prisma.$disconnect()
  }

  console.log('')
  const widths = {
    row: result.rows.reduce((most, r) => Math.max(most, String(r.row).length), 1),
    uid: Math.min(24, result.rows.reduce((most, r) => Math.max(most, shownUid(r).length), 1))
  }
  for (const row of result.rows) for (const line of rowLines(row, dryRun, widths)) console.log(line)
  console.log('')
  console.log(summary(result))
  if (dryRun) {
    console.log('Dry run: nothing was written.')
  } else if (result.imported > 0) {
    console.log('Imported users sign in with their Flask passwords; each password is re-hashed with argon2id at its first sign-in.')
  }
}

try {
  await main()
} catch (err) {
  if (!(err instanceof FlaskImportError || err instanceof ConfigError || err instanceof MigrationError || err instanceof UsageError)) throw err
  console.error(`import:flask: ${err.message}`)
  process.exitCode = 1
}
