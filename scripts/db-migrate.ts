/**
 * `npm run db:migrate`: applies the pending migrations of prisma/migrations to DATABASE_URL, as
 * `prisma migrate deploy` would, without Prisma's native schema engine (see src/db/migrator.ts).
 * A SQLite file is backed up first. `--verbose` also prints the schema engine's log.
 *
 * The app reads its settings through src/config.ts; this script runs without the app, so it
 * reads DATABASE_URL itself, with the app's default.
 */
import { relative } from 'node:path'
import { migrate, MigrationError } from '../src/db/migrator.ts'

const databaseUrl = process.env.DATABASE_URL ?? 'file:./instance/volumes/sqlite.db'
const verbose = process.argv.includes('--verbose')

try {
  const { applied, backup } = await migrate(databaseUrl, {
    // Warnings always; the engine's own lines only on request.
    log: (line) => { if (verbose || line.startsWith('warning:')) console.error(line) }
  })
  if (backup !== null) console.log(`Backed up the database to ${relative(process.cwd(), backup)}`)
  if (applied.length === 0) {
    console.log('Database is up to date')
  } else {
    for (const name of applied) console.log(`Applied ${name}`)
  }
} catch (err) {
  if (!(err instanceof MigrationError)) throw err
  console.error(err.message)
  process.exitCode = 1
}
