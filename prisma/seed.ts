/**
 * `npm run db:seed`: creates the demo users that are missing (see README for their passwords).
 * Refuses to run when NODE_ENV=production: their passwords are public.
 */
import { ConfigError, loadConfig } from '../src/config.ts'
import { createPrismaClient } from '../src/db/client.ts'
import { SeedRefusedError, seedDemoUsers } from '../src/db/seed.ts'
import { createPasswordHasher } from '../src/plugins/app/password-hasher.ts'
import { createUsersRepository } from '../src/plugins/app/users-repository.ts'

try {
  const config = loadConfig(process.env, { dotenv: true })
  if (config.env === 'production') throw new SeedRefusedError('Refusing to seed demo users with published passwords when NODE_ENV=production.')
  const prisma = await createPrismaClient(config.databaseUrl)
  try {
    const repo = createUsersRepository({ prisma, passwordHasher: createPasswordHasher(config.passwordHash) })
    const created = await seedDemoUsers(repo, { env: config.env })
    console.log(created.length === 0 ? 'Demo users already present' : `Created demo users: ${created.join(', ')}`)
  } finally {
    await prisma.$disconnect()
  }
} catch (err) {
  if (!(err instanceof SeedRefusedError || err instanceof ConfigError)) throw err
  console.error(err.message)
  process.exitCode = 1
}
