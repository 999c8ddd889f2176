import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import {
  createLoginThrottle, createMemoryStore, describeWait, type AccountState, type LoginThrottleOptions
} from '../../src/plugins/app/login-throttle.ts'
import { build, submitForm } from '../helper.ts'
import { createUser } from '../factories.ts'

const START = 1_700_000_000_000

/** A throttle on a clock that moves only when the test says so. */
function throttleAt (options: Partial<LoginThrottleOptions> = {}) {
  const clock = { ms: START }
  const throttle = createLoginThrottle({ freeAttempts: 5, maxDelaySeconds: 900, now: () => clock.ms, ...options })
  const advance = (seconds: number) => { clock.ms += seconds * 1000 }
  return { throttle, clock, advance }
}

/** `n` allowed attempts in a row (each counted as a failure). */
async function fail (throttle: ReturnType<typeof createLoginThrottle>, uid: string, n: number) {
  for (let i = 0; i < n; i++) assert.deepEqual(await throttle.attempt(uid), { allowed: true }, `attempt ${i + 1}`)
}

test('the first freeAttempts failures pass, the next attempt waits 1 second', async () => {
  const { throttle, advance } = throttleAt()
  await fail(throttle, 'toby', 5)
  assert.deepEqual(await throttle.attempt('toby'), { allowed: false, retryAfterSeconds: 1 })
  advance(0.5)
  assert.deepEqual(await throttle.attempt('toby'), { allowed: false, retryAfterSeconds: 1 }, 'a partial second rounds up')
  advance(0.5)
  assert.deepEqual(await throttle.attempt('toby'), { allowed: true })
})

test('each further failure doubles the wait: 1, 2, 4, 8, 16 seconds', async () => {
  const { throttle, advance } = throttleAt()
  await fail(throttle, 'toby', 5)
  for (const wait of [1, 2, 4, 8, 16]) {
    assert.deepEqual(await throttle.attempt('toby'), { allowed: false, retryAfterSeconds: wait })
    advance(wait - 0.001)
    assert.equal((await throttle.attempt('toby')).allowed, false, `still waiting just before ${wait} s`)
    advance(0.001)
    assert.deepEqual(await throttle.attempt('toby'), { allowed: true })
  }
})

test('the wait never exceeds maxDelaySeconds, however many failures', async () => {
  const { throttle, advance } = throttleAt({ maxDelaySeconds: 60 })
  assert.equal(throttle.delayMs(4), 0)
  assert.equal(throttle.delayMs(5), 1000)
  assert.equal(throttle.delayMs(11), 60_000)
  assert.equal(throttle.delayMs(10_000), 60_000, 'no overflow to Infinity or NaN')
  await fail(throttle, 'toby', 5)
  for (let i = 0; i < 20; i++) {
    const verdict = await throttle.attempt('toby')
    assert.equal(verdict.allowed, false)
    if (!verdict.allowed) assert.ok(verdict.retryAfterSeconds <= 60, `wait ${verdict.retryAfterSeconds} s`)
    advance(60)
    assert.deepEqual(await throttle.attempt('toby'), { allowed: true }, 'the capped wait always ends: no lockout')
  }
})

test('refused attempts do not lengthen the wait', async () => {
  const { throttle, advance } = throttleAt()
  await fail(throttle, 'toby', 5)
  for (let i = 0; i < 50; i++) assert.equal((await throttle.attempt('toby')).allowed, false)
  advance(1)
  assert.deepEqual(await throttle.attempt('toby'), { allowed: true })
})

test('a successful sign-in resets the count', async () => {
  const { throttle, advance } = throttleAt()
  await fail(throttle, 'toby', 5)
  advance(1)
  assert.deepEqual(await throttle.attempt('toby'), { allowed: true }, 'the 6th attempt, after its wait: the right password')
  await throttle.succeeded('toby')
  await fail(throttle, 'toby', 5)
  assert.deepEqual(await throttle.attempt('toby'), { allowed: false, retryAfterSeconds: 1 }, 'five free failures again, then 1 s')
})

test('the count expires after a quiet period of twice the longest wait, not before', async () => {
  const { throttle, advance } = throttleAt({ maxDelaySeconds: 900 })
  await fail(throttle, 'toby', 5)
  advance(2 * 900 - 1)
  await fail(throttle, 'toby', 1)
  assert.equal((await throttle.attempt('toby')).allowed, false, 'the count survived (6 failures, 2 s wait)')
  advance(2 * 900)
  await fail(throttle, 'toby', 5)
  assert.equal((await throttle.attempt('toby')).allowed, false)
})

test('accounts are independent, and keyed by the normalised user id', async () => {
  const { throttle } = throttleAt()
  await fail(throttle, ' Toby ', 5)
  assert.equal((await throttle.attempt('toby')).allowed, false, 'same account as " Toby "')
  assert.equal((await throttle.attempt('ＴＯＢＹ')).allowed, false, 'NFKC: full-width letters are the same id')
  await fail(throttle, 'niko', 5)
  await fail(throttle, 'no-such-user', 5)
  assert.equal((await throttle.attempt('no-such-user')).allowed, false, 'unknown ids are counted like real ones')
})

test('parallel attempts are all counted: only freeAttempts get through a burst', async () => {
  const { throttle } = throttleAt()
  const verdicts = await Promise.all(Array.from({ length: 20 }, () => throttle.attempt('toby')))
  assert.equal(verdicts.filter(v => v.allowed).length, 5)
})

test('the in-memory store is bounded: spraying user ids evicts the oldest, never grows past maxEntries', async () => {
  const clock = { ms: START }
  const store = createMemoryStore<AccountState>({ maxEntries: 100, now: () => clock.ms })
  const throttle = createLoginThrottle({ freeAttempts: 5, maxDelaySeconds: 900, now: () => clock.ms, store })
  await fail(throttle, 'victim', 5)
  for (let i = 0; i < 5000; i++) await throttle.attempt(`random-${i}`)
  assert.equal(store.size, 100)
  assert.equal(await store.get('victim'), undefined, 'the oldest entry went first')
  assert.deepEqual(await store.get('random-4999'), { failures: 1, lastAttemptAt: START })
})

test('the in-memory store forgets expired entries: lazily on read, and in a sweep on every write', async () => {
  const clock = { ms: START }
  const store = createMemoryStore<number>({ maxEntries: 1000, now: () => clock.ms })
  for (let i = 0; i < 10; i++) await store.set(`k${i}`, i, 1000)
  clock.ms += 999
  assert.equal(await store.get('k3'), 3)
  clock.ms += 1
  assert.equal(await store.get('k3'), undefined)
  assert.equal(store.size, 9)
  await store.set('fresh', 1, 1000)
  assert.equal(store.size, 1, 'the write swept the other expired entries')
  await store.delete('fresh')
  assert.equal(store.size, 0)
})

test('the default store holds at most 100 000 accounts', async () => {
  const { throttle } = throttleAt()
  const store = throttle.store as ReturnType<typeof createMemoryStore<AccountState>>
  for (let i = 0; i < 100_050; i++) await throttle.attempt(`id-${i}`)
  assert.equal(store.size, 100_000)
})

test('waits read as people say them', () => {
  assert.equal(describeWait(1), '1 second')
  assert.equal(describeWait(2), '2 seconds')
  assert.equal(describeWait(89), '89 seconds')
  assert.equal(describeWait(90), '2 minutes')
  assert.equal(describeWait(900), '15 minutes')
})

// Through the routes: the app's throttle on a clock the test moves.

async function appWithClock (t: TestContext) {
  const app = await build(t)
  const clock = { ms: START }
  t.mock.method(app.loginThrottle, 'now', () => clock.ms)
  const { user, password } = await createUser(app)
  return { app, user, password, advance: (seconds: number) => { clock.ms += seconds * 1000 } }
}

const api = (app: FastifyInstance, uid: string, password: string) =>
  app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid, password } })

async function auditRows (app: FastifyInstance, type: string) {
  const rows = await app.prisma.auditEvent.findMany({ where: { type }, orderBy: { id: 'asc' } })
  return rows.map(r => ({ actorId: r.actorId, targetId: r.targetId, targetUid: r.targetUid, detail: JSON.parse(r.detail) as unknown }))
}

test('API: the 6th wrong password gets 429 with Retry-After, and the right one is not even checked until the wait is over', async (t) => {
  const { app, user, password, advance } = await appWithClock(t)
  for (let i = 0; i < 5; i++) assert.equal((await api(app, user.uid, `wrong-${i}`)).statusCode, 401)

  const sixth = await api(app, user.uid, 'wrong-5')
  assert.equal(sixth.statusCode, 429)
  assert.equal(sixth.headers['retry-after'], '1')
  assert.deepEqual(sixth.json(), {
    statusCode: 429,
    error: 'Too Many Requests',
    message: 'Too many failed sign-ins for this user id. Please wait 1 second before trying again.'
  })

  const verify = t.mock.method(app.passwordHasher, 'verify')
  const right = await api(app, user.uid, password)
  assert.equal(right.statusCode, 429, 'the right password during the wait is refused')
  assert.equal(right.cookies.length, 0)
  assert.equal(verify.mock.callCount(), 0, 'no password was checked')
  assert.equal(await app.prisma.session.count(), 0)

  advance(1)
  const after = await api(app, user.uid, password)
  assert.equal(after.statusCode, 200, 'after the wait the right password works')
  assert.ok(after.cookies.some(c => c.name === app.config.cookie.name))
  for (let i = 0; i < 5; i++) assert.equal((await api(app, user.uid, `wrong-again-${i}`)).statusCode, 401, 'the count was reset')
  assert.equal((await api(app, user.uid, 'wrong-again')).statusCode, 429)
})

test('API: the wait grows with each failure after the free ones', async (t) => {
  const { app, user, advance } = await appWithClock(t)
  for (let i = 0; i < 5; i++) await api(app, user.uid, `wrong-${i}`)
  for (const wait of [1, 2, 4, 8]) {
    const refused = await api(app, user.uid, 'wrong')
    assert.equal(refused.statusCode, 429)
    assert.equal(refused.headers['retry-after'], String(wait))
    advance(wait)
    assert.equal((await api(app, user.uid, 'wrong')).statusCode, 401)
  }
})

test('API: other accounts are unaffected, and unknown user ids are throttled the same way', async (t) => {
  const { app, user } = await appWithClock(t)
  const { user: other, password: otherPassword } = await createUser(app)
  for (let i = 0; i < 5; i++) {
    assert.equal((await api(app, user.uid, `wrong-${i}`)).statusCode, 401)
    assert.equal((await api(app, 'nobody-at-all', `wrong-${i}`)).statusCode, 401)
  }
  const known = await api(app, user.uid, 'wrong')
  const unknown = await api(app, 'Nobody-At-All', 'wrong')
  assert.equal(known.statusCode, 429)
  assert.equal(unknown.statusCode, 429, 'the unknown id (in another case) waits too')
  assert.equal(known.body, unknown.body)
  assert.equal(known.headers['retry-after'], unknown.headers['retry-after'])
  assert.equal((await api(app, other.uid, otherPassword)).statusCode, 200, 'another account signs in')
})

test('form: the 6th wrong password re-renders the form with 429, Retry-After and how long to wait; the right one waits too', async (t) => {
  const { app, user, password, advance } = await appWithClock(t)
  for (let i = 0; i < 5; i++) assert.equal((await submitForm(app, '/login', { uid: user.uid, password: `wrong-${i}` })).statusCode, 401)

  const sixth = await submitForm(app, '/login', { uid: user.uid, password: 'wrong-5' })
  assert.equal(sixth.statusCode, 429)
  assert.equal(sixth.headers['retry-after'], '1')
  assert.match(sixth.body, /Too many failed sign-ins for this user id\. Please wait 1 second before trying again\./)
  assert.match(sixth.body, new RegExp(`name="uid" type="text" value="${user.uid}"`), 'the typed user id is kept')
  assert.doesNotMatch(sixth.body, /wrong-5/)

  const right = await submitForm(app, '/login', { uid: user.uid, password, next: '/profile' })
  assert.equal(right.statusCode, 429)
  assert.equal(right.cookies.find(c => c.name === app.config.cookie.name), undefined)

  advance(1)
  const after = await submitForm(app, '/login', { uid: user.uid, password, next: '/profile' })
  assert.equal(after.statusCode, 303)
  assert.equal(after.headers.location, '/profile')
})

test('form: empty fields are answered 422 without touching the throttle', async (t) => {
  const { app, user, password } = await appWithClock(t)
  const attempt = t.mock.method(app.loginThrottle, 'attempt')
  for (let i = 0; i < 8; i++) assert.equal((await submitForm(app, '/login', { uid: user.uid, password: '' })).statusCode, 422)
  assert.equal(attempt.mock.callCount(), 0)
  assert.equal((await submitForm(app, '/login', { uid: user.uid, password })).statusCode, 303)
})

test('audit rows: sign_in for a success, sign_in_failed with the reason for failures (never the password)', async (t) => {
  const { app, user, password, advance } = await appWithClock(t)
  await api(app, user.uid, password)
  await submitForm(app, '/login', { uid: user.uid, password })
  assert.deepEqual(await auditRows(app, 'sign_in'), [
    { actorId: user.id, targetId: null, targetUid: null, detail: {} },
    { actorId: user.id, targetId: null, targetUid: null, detail: {} }
  ])

  await api(app, 'Nobody-Here', 'wrong-password')
  for (let i = 0; i < 4; i++) await api(app, user.uid.toUpperCase(), 'wrong-password')
  await submitForm(app, '/login', { uid: user.uid, password: 'wrong-password' })
  await api(app, user.uid, password) // throttled: the 6th attempt in a row
  await submitForm(app, '/login', { uid: user.uid, password: 'wrong-password' }) // throttled
  const failed = await auditRows(app, 'sign_in_failed')
  const bad = { reason: 'bad_credentials' }
  const throttled = { reason: 'throttled' }
  assert.deepEqual(failed, [
    // Typed ids are stored normalised, so the audit page's user filter finds every attempt.
    { actorId: null, targetId: null, targetUid: 'nobody-here', detail: bad },
    ...Array(4).fill({ actorId: null, targetId: user.id, targetUid: user.uid, detail: bad }),
    { actorId: null, targetId: user.id, targetUid: user.uid, detail: bad },
    { actorId: null, targetId: user.id, targetUid: user.uid, detail: throttled },
    { actorId: null, targetId: user.id, targetUid: user.uid, detail: throttled }
  ])
  const all = JSON.stringify(await app.prisma.auditEvent.findMany())
  assert.ok(!all.includes('wrong-password') && !all.includes(password), 'no password in the audit trail')

  advance(1)
  assert.equal((await api(app, user.uid, password)).statusCode, 200)
  assert.equal((await auditRows(app, 'sign_in')).length, 3)
})
