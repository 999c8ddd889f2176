import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createPasswordHasher } from '../../src/plugins/app/password-hasher.ts'

const hasher = createPasswordHasher({ memoryCost: 1024, timeCost: 1, maxConcurrent: 2 })

test('hashes with argon2id and verifies only the right password', async () => {
  const hash = await hasher.hash('correct horse battery')
  assert.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
  assert.equal(await hasher.verify(hash, 'correct horse battery'), true)
  assert.equal(await hasher.verify(hash, 'correct horse batterY'), false)
  assert.notEqual(await hasher.hash('correct horse battery'), hash, 'salted')
})

test('an unreadable stored hash is a failed check, not an error', async () => {
  assert.equal(await hasher.verify('$argon2id$garbage', 'x'), false)
  assert.equal(await hasher.verify('pbkdf2:sha256:260000$salt$abc', 'x'), false)
  assert.equal(await hasher.verify('', 'x'), false)
})

test('the dummy check for unknown users does the same work and never throws', async () => {
  await hasher.verifyDummy('anything')
  await hasher.verifyDummy('')
})

test('the configured cost is used (OWASP defaults in production)', async () => {
  const owasp = createPasswordHasher({ memoryCost: 19456, timeCost: 2, maxConcurrent: 1 })
  assert.match(await owasp.hash('x'), /\$m=19456,t=2,p=1\$/)
})
