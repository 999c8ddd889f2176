import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SessionCache } from '../../src/plugins/app/session-cache.ts'
import type { SessionWithUser } from '../../src/plugins/app/sessions-repository.ts'

const session = (id: string, userId = 1) => ({ id, userId }) as unknown as SessionWithUser

test('entries live for the configured time only', () => {
  let now = 1000
  const cache = new SessionCache(500, 10, () => now)
  cache.set(session('a'))
  assert.equal(cache.get('a')?.id, 'a')
  now += 499
  assert.equal(cache.get('a')?.id, 'a')
  now += 1
  assert.equal(cache.get('a'), undefined)
})

test('a zero time turns the cache off', () => {
  const cache = new SessionCache(0)
  cache.set(session('a'))
  assert.equal(cache.get('a'), undefined)
  assert.equal(cache.size, 0)
})

test('the size is bounded; the oldest entry goes first', () => {
  const cache = new SessionCache(60_000, 3)
  for (const id of ['a', 'b', 'c', 'd']) cache.set(session(id))
  assert.equal(cache.size, 3)
  assert.equal(cache.get('a'), undefined)
  assert.equal(cache.get('d')?.id, 'd')
})

test('forgetting a session or a user removes exactly their entries', () => {
  const cache = new SessionCache(60_000)
  cache.set(session('a', 1))
  cache.set(session('b', 1))
  cache.set(session('c', 2))
  cache.forgetSession('c')
  assert.equal(cache.get('c'), undefined)
  cache.set(session('c', 2))
  cache.forgetUser(1)
  assert.deepEqual(['a', 'b', 'c'].map(id => cache.get(id)?.id), [undefined, undefined, 'c'])
})
