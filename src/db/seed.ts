import type { NewUser } from '../plugins/app/users-repository.ts'
import type { User } from '../generated/prisma/client.ts'
import type { NodeEnv } from '../config.ts'

/**
 * Demo users, as the Flask original seeded them (an Admin and three Users). Their passwords
 * are public (README), so they are refused outside development and test.
 */
export const DEMO_USERS: ReadonlyArray<NewUser & { role: 'User' | 'Admin' }> = [
  { uid: 'toby', name: 'Thomas Edison', password: 'toby-demo-pass', dob: '1847-02-11', role: 'Admin' },
  { uid: 'niko', name: 'Nikola Tesla', password: 'niko-demo-pass', dob: '1856-07-10', role: 'User' },
  { uid: 'lex', name: 'Alexander Graham Bell', password: 'lex-demo-pass', dob: '1847-03-03', role: 'User' },
  { uid: 'hop', name: 'Grace Hopper', password: 'hop-demo-pass', dob: '1906-12-09', role: 'User' }
]

interface Repo {
  count (): Promise<number>
  findByUid (uid: string): Promise<User | null>
  create (user: NewUser): Promise<User>
}

export class SeedRefusedError extends Error {
  override name = 'SeedRefusedError'
}

/**
 * Creates the demo users that do not exist yet. `onlyIfEmpty` (used at server start) leaves a
 * database that already has users untouched. Returns the user ids created.
 */
export async function seedDemoUsers (repo: Repo, options: { env: NodeEnv, onlyIfEmpty?: boolean }): Promise<string[]> {
  if (options.env === 'production') {
    throw new SeedRefusedError('Refusing to seed demo users with published passwords when NODE_ENV=production.')
  }
  if (options.onlyIfEmpty === true && await repo.count() > 0) return []
  const created: string[] = []
  for (const user of DEMO_USERS) {
    if (await repo.findByUid(user.uid) !== null) continue
    await repo.create(user)
    created.push(user.uid)
  }
  return created
}
