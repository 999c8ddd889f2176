/**
 * Entry point: configuration, database preparation, the app, listen, graceful shutdown.
 */
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import app, { serverOptions } from './app.ts'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { MigrationError, migrate, migrationStatus } from './db/migrator.ts'
import { seedDemoUsers } from './db/seed.ts'
import { loggerOptions } from './lib/logger.ts'

function fail (message: string): never {
  process.stderr.write(`fastify-portfolio: ${message}\n`)
  process.exit(1)
}

let config: Config
try {
  config = loadConfig(process.env, { dotenv: true })
} catch (err) {
  if (err instanceof ConfigError) fail(err.message)
  throw err
}

const fastify = Fastify({ ...serverOptions(config), logger: loggerOptions(config) })

// The schema must match the code before anything is served: apply pending migrations where
// allowed (development default), otherwise refuse to start when any are pending.
try {
  if (config.migrateOnStart) {
    const { applied, backup } = await migrate(config.databaseUrl, { log: line => fastify.log.debug(line) })
    if (backup !== null) fastify.log.info({ backup }, 'database backed up before migrating')
    if (applied.length > 0) fastify.log.info({ applied }, 'migrations applied')
  } else {
    const status = await migrationStatus(config.databaseUrl)
    if (status.unknown.length > 0 || status.failed.length > 0 || status.pending.length > 0) {
      fail(`the database schema does not match this code (pending: ${status.pending.length}, unknown: ${status.unknown.length}, failed: ${status.failed.length}). Run \`npm run db:migrate\`.`)
    }
  }
} catch (err) {
  if (err instanceof MigrationError) fail(err.message)
  throw err
}

// fp: the app's decorators (usersRepository…) stay visible here, for seeding.
await fastify.register(fp(app), { config })
await fastify.ready()

if (config.seedDemoUsers) {
  const created = await seedDemoUsers(fastify.usersRepository, { env: config.env, onlyIfEmpty: true })
  if (created.length > 0) fastify.log.info({ users: created }, 'demo users created (see README for their passwords)')
}

closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
  if (err !== undefined) fastify.log.error({ err }, 'shutting down after an error')
  else fastify.log.info({ signal }, 'shutting down')
  await fastify.close()
})

try {
  await fastify.listen({ host: config.host, port: config.port })
} catch (err) {
  fastify.log.error({ err }, 'could not listen')
  process.exit(1)
}
