/**
 * `npm run db:migration:new -- <name>`: writes the next migration of prisma/migrations from the
 * changes in prisma/schema.prisma, without Prisma's native schema engine (see src/db/migrator.ts).
 * Review the SQL, then apply it with `npm run db:migrate`.
 */
import { relative } from 'node:path'
import { createMigration, MigrationError } from '../src/db/migrator.ts'

const name = process.argv.slice(2).join(' ').trim()
if (name === '') {
  console.error('Usage: npm run db:migration:new -- <name>   (e.g. add_user_bio)')
  process.exit(2)
}

try {
  const created = await createMigration({ name })
  if (created === null) {
    console.log('No schema changes')
  } else {
    console.log(`Created ${relative(process.cwd(), created.dir)}/migration.sql`)
  }
} catch (err) {
  if (!(err instanceof MigrationError)) throw err
  console.error(err.message)
  process.exitCode = 1
}
