/**
 * `npm run user:role -- <user id> <Admin|User>`: gives a user a role from the command line, on
 * the database this app is configured for (DATABASE_URL and the rest through src/config.ts and
 * `.env`). This is how the first Admin of a production deployment is made: demo seeding is refused
 * there, and sign-up creates Users only. See docs/decisions/0020-first-admin.md.
 *
 * It goes through the app itself (built, never listening), exactly as an Admin's change on the
 * /users page does: the role is saved, the user's sessions end (they sign in again under the new
 * role; with REDIS_URL every running instance drops them from its cache at once), and a
 * `role_changed` audit event is written with no actor and "command line" as its origin.
 * Exit status 0 when the user has the role afterwards, 1 otherwise.
 */
import { parseArgs } from 'node:util'
import Fastify, { type FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import app, { serverOptions } from '../src/app.ts'
import { ConfigError, loadConfig } from '../src/config.ts'
import { MigrationError, migrationStatus } from '../src/db/migrator.ts'

const USAGE = 'Usage: npm run user:role -- <user id> <Admin|User>'
const ROLES = ['Admin', 'User'] as const
type Role = typeof ROLES[number]

class UsageError extends Error {}

function commandLine (): { uid: string, role: Role } {
  let parsed
  try {
    parsed = parseArgs({ allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } })
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`)
  }
  if (parsed.values.help === true) {
    console.log(USAGE)
    process.exit(0)
  }
  const [uid, role] = parsed.positionals
  if (parsed.positionals.length !== 2 || uid.trim() === '') throw new UsageError(USAGE)
  const match = ROLES.find(r => r.toLowerCase() === role.toLowerCase())
  if (match === undefined) throw new UsageError(`The role must be Admin or User, not "${role}".\n${USAGE}`)
  return { uid, role: match }
}

async function main (): Promise<void> {
  const { uid, role } = commandLine()
  const config = loadConfig(process.env, { dotenv: true })
  const status = await migrationStatus(config.databaseUrl)
  if (status.pending.length > 0 || status.unknown.length > 0 || status.failed.length > 0) {
    throw new MigrationError('The database does not match this code: run `npm run db:migrate` (or start the app once) first. Nothing was changed.')
  }

  const fastify = Fastify({ ...serverOptions(config), logger: { level: 'warn' } })
  try {
    await fastify.register(fp(app), { config })
    await fastify.ready()
    const user = await fastify.usersRepository.findByUid(uid)
    if (user === null) throw new UsageError(`No user with the user id "${uid}". Nothing was changed.`)
    if (user.role === role) {
      console.log(`${user.uid} is already ${role === 'Admin' ? 'an Admin' : 'a User'}. Nothing was changed.`)
      return
    }
    await fastify.usersRepository.update(user.id, { role })
    const ended = await fastify.sessionsRepository.revokeAllForUser(user.id)
    // The audit trail takes the request that caused an event; here there is none, so it gets
    // what it reads from one: no signed-in actor, and where the change came from.
    const origin = { user: null, ip: 'command line', headers: { 'user-agent': 'npm run user:role' }, log: fastify.log }
    await fastify.auditLog.record(origin as unknown as FastifyRequest, 'role_changed', { actor: null, target: user, detail: { from: user.role, to: role, via: 'command line' } })
    console.log(`${user.uid} is now ${role === 'Admin' ? 'an Admin' : 'a User'} (was ${user.role}); ${ended} ${ended === 1 ? 'session' : 'sessions'} ended: they sign in again.`)
  } finally {
    await fastify.close()
  }
}

try {
  await main()
} catch (err) {
  if (!(err instanceof ConfigError || err instanceof MigrationError || err instanceof UsageError)) throw err
  console.error(`user:role: ${err.message}`)
  process.exitCode = 1
}
