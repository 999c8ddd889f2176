import assert from 'node:assert/strict'
import { test } from 'node:test'
import { build } from '../helper.ts'
import { DEMO_USERS, SeedRefusedError, seedDemoUsers } from '../../src/db/seed.ts'

test('seeds the demo users once, with working passwords and one Admin', async (t) => {
  const app = await build(t)
  assert.deepEqual(await seedDemoUsers(app.usersRepository, { env: 'development' }), DEMO_USERS.map(u => u.uid))
  assert.deepEqual(await seedDemoUsers(app.usersRepository, { env: 'development' }), [])
  const admin = await app.usersRepository.findByUid('toby')
  assert.equal(admin?.role, 'Admin')
  assert.ok(await app.passwordHasher.verify(admin!.passwordHash, 'toby-demo-pass'))
})

test('at start-up it leaves a database that already has users alone', async (t) => {
  const app = await build(t)
  await app.usersRepository.create({ uid: 'only', name: 'Only', password: 'long-enough-1' })
  assert.deepEqual(await seedDemoUsers(app.usersRepository, { env: 'development', onlyIfEmpty: true }), [])
  assert.equal(await app.usersRepository.count(), 1)
})

test('refuses to seed published passwords in production', async (t) => {
  const app = await build(t)
  await assert.rejects(seedDemoUsers(app.usersRepository, { env: 'production' }), SeedRefusedError)
  assert.equal(await app.usersRepository.count(), 0)
})
