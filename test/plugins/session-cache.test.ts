import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SessionCache, formatInvalidation, parseInvalidation } from '../../src/plugins/app/session-cache.ts'
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

test('a read that started before an invalidation is not cached: it may hold the row as it was', () => {
  const cache = new SessionCache(60_000)
  const before = cache.generation
  cache.forgetUser(1) // e.g. a role change committed while the read was in flight
  cache.set(session('a', 1), before)
  assert.equal(cache.get('a'), undefined)
  cache.set(session('a', 1), cache.generation)
  assert.equal(cache.get('a')?.id, 'a')
  // A new session elsewhere changes no cached session, only lists of devices.
  const beforeSignIn = cache.generation
  const listBefore = cache.listGeneration
  cache.forgetSessionsList(2)
  cache.set(session('b', 3), beforeSignIn)
  assert.equal(cache.get('b')?.id, 'b')
  cache.setSessions(2, [], listBefore)
  assert.equal(cache.getSessions(2), undefined)
})

test('lists of devices: cached per user, forgotten with a session in them, the user, or a new session', () => {
  const cache = new SessionCache(60_000)
  const list = (...ids: string[]) => ids.map(id => ({ id })) as unknown as Parameters<SessionCache['setSessions']>[1]
  cache.setSessions(1, list('a', 'b'))
  cache.setSessions(2, list('c'))
  cache.forgetSession('b')
  assert.equal(cache.getSessions(1), undefined)
  assert.equal(cache.getSessions(2)?.length, 1)
  cache.forgetSessionsList(2)
  assert.equal(cache.getSessions(2), undefined)
  cache.setSessions(3, list('d'))
  cache.forgetUser(3)
  assert.equal(cache.getSessions(3), undefined)
})

test('with a bus: every change is published, nothing is served until the bus is up or while it is down', () => {
  const cache = new SessionCache(60_000)
  const sent: unknown[] = []
  cache.attachBus(event => sent.push(event))
  cache.set(session('a'))
  assert.equal(cache.get('a'), undefined, 'not before the bus is up')
  cache.busUp()
  cache.set(session('a'))
  assert.equal(cache.get('a')?.id, 'a')
  cache.forgetSession('x')
  cache.forgetUser(7)
  cache.forgetSessionsList(8)
  assert.deepEqual(sent, [{ kind: 'session', id: 'x' }, { kind: 'user', userId: 7 }, { kind: 'sessions-list', userId: 8 }])
  cache.receive({ kind: 'session', id: 'a' })
  assert.equal(cache.get('a'), undefined, 'a change from another instance applies')
  assert.equal(sent.length, 3, 'and is not sent on')
  cache.set(session('b'))
  cache.busDown()
  assert.equal(cache.get('b'), undefined, 'emptied and off while the bus is down')
  cache.set(session('b'))
  assert.equal(cache.size, 0)
  cache.busUp()
  assert.equal(cache.get('b'), undefined, 'back up: starts empty')
})

test('messages from the bus are validated', () => {
  assert.deepEqual(parseInvalidation(formatInvalidation({ kind: 'session', id: 'abc' }, 'me')), { event: { kind: 'session', id: 'abc' }, from: 'me' })
  assert.deepEqual(parseInvalidation('{"kind":"user","userId":3,"extra":1}'), { event: { kind: 'user', userId: 3 }, from: '' })
  for (const junk of ['', 'nope', 'null', '[]', '{"kind":"session","id":3}', '{"kind":"user","userId":"3"}', '{"kind":"user","userId":1.5}', '{"kind":"drop-tables"}']) {
    assert.equal(parseInvalidation(junk), null, junk)
  }
})
