/**
 * SECURITY.md S22 (timing): a failed sign-in takes as long for an unknown user id as for a
 * known one, so response times do not reveal which accounts exist. Measured through
 * `app.inject` with the production hashing cost (argon2id, 19 MiB, t=2), the throttles set
 * out of the way so every attempt reaches the password check.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { build, csrfFor } from '../helper.ts'
import { createUser } from '../factories.ts'

const TRIALS = 80
const WARM_UP = 3
const UNKNOWN = 'nobody-by-this-id'
const WRONG = 'wrong-password-123'

function median (xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function shuffle<T> (xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]]
  }
  return xs
}

/**
 * The largest median gap that counts as noise. What an existence oracle looks like: an unknown
 * id that skips the hash answers in about 1 ms instead of a full argon2id check (tens of ms), a
 * gap close to 100 % of the median. Scheduler and garbage-collector noise on a loaded machine
 * (other test files run alongside) moves the median of 80 paired differences by a few ms. So: a quarter of the median (4 times
 * below the signal), and never less than 5 ms (on a fast machine the median is small and the
 * noise floor dominates). The control below checks that a missing hash would exceed it.
 */
const noise = (reference: number) => Math.max(5, 0.25 * reference)

const headerNames = (res: LightMyRequestResponse) => Object.keys(res.headers).filter(h => h !== 'date').sort()
const fmt = (ms: number) => `${ms.toFixed(1)} ms`

test('S22 response times do not reveal whether a user id exists (production hashing cost)', async (t) => {
  const app = await build(t, {
    PASSWORD_HASH_MEMORY_KIB: '19456',
    PASSWORD_HASH_ITERATIONS: '2',
    LOGIN_RATE_LIMIT: '100000',
    LOGIN_ACCOUNT_FREE_ATTEMPTS: '100000'
  })
  const { user } = await createUser(app)
  const form = await csrfFor(app)

  const api = (uid: string, password: string) =>
    app.inject({ method: 'POST', url: '/api/authenticate', payload: { uid, password } })
  const post = (uid: string, password: string) => app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ uid, password, _csrf: form.token }).toString()
  })

  const kinds = {
    apiUnknown: () => api(UNKNOWN, WRONG),
    apiKnownWrong: () => api(user.uid, WRONG),
    apiKnownEmpty: () => api(user.uid, ''),
    formUnknown: () => post(UNKNOWN, WRONG),
    formKnownWrong: () => post(user.uid, WRONG),
    // Control: the form's empty-field answer hashes nothing, the speed of an oracle.
    formEmpty: () => post(user.uid, '')
  }
  type Kind = keyof typeof kinds
  const names = Object.keys(kinds) as Kind[]
  const times = Object.fromEntries(names.map(k => [k, [] as number[]])) as Record<Kind, number[]>
  const last = {} as Record<Kind, LightMyRequestResponse>

  // Warm-up: the dummy hash for unknown ids is made on first use; JIT, caches, SQLite pages.
  for (let i = 0; i < WARM_UP; i++) for (const k of names) await kinds[k]()

  // Rounds of one request of each kind, in a fresh random order each round: drift (CPU
  // frequency, other test files running alongside) hits every kind alike, and trial i of one
  // kind can be paired with trial i of another.
  for (let i = 0; i < TRIALS; i++) {
    for (const k of shuffle([...names])) {
      const start = performance.now()
      last[k] = await kinds[k]()
      times[k].push(performance.now() - start)
    }
  }
  const m = Object.fromEntries(names.map(k => [k, median(times[k])])) as Record<Kind, number>
  /** The median of the per-round differences: a burst of load cancels out within its round. */
  const pairedGap = (a: Kind, b: Kind) => median(times[a].map((x, i) => x - times[b][i]))
  t.diagnostic(`medians over ${TRIALS} trials each: API unknown id ${fmt(m.apiUnknown)}, known id + wrong password ${fmt(m.apiKnownWrong)}, known id + empty password ${fmt(m.apiKnownEmpty)}`)
  t.diagnostic(`form unknown id ${fmt(m.formUnknown)}, known id + wrong password ${fmt(m.formKnownWrong)}; control (empty field, no hashing) ${fmt(m.formEmpty)}`)

  await t.test('the API answers all three with the same status, body and header names', () => {
    for (const k of ['apiUnknown', 'apiKnownWrong', 'apiKnownEmpty'] as const) {
      assert.equal(last[k].statusCode, 401, k)
      assert.equal(last[k].body, last.apiUnknown.body, k)
      assert.deepEqual(headerNames(last[k]), headerNames(last.apiUnknown), k)
    }
  })

  await t.test('the form answers both with the same status, page and header names', () => {
    const normalise = (body: string, uid: string) => body.replaceAll(uid, '{uid}').replace(/name="_csrf" value="[^"]+"/g, '')
    assert.equal(last.formUnknown.statusCode, 401)
    assert.equal(last.formKnownWrong.statusCode, 401)
    assert.equal(normalise(last.formUnknown.body, UNKNOWN), normalise(last.formKnownWrong.body, user.uid))
    assert.deepEqual(headerNames(last.formUnknown), headerNames(last.formKnownWrong))
  })

  await t.test('the median difference between known and unknown ids is below the noise bound', () => {
    for (const [a, b] of [['apiKnownWrong', 'apiUnknown'], ['apiKnownEmpty', 'apiUnknown'], ['formKnownWrong', 'formUnknown']] as const) {
      const gap = pairedGap(a, b)
      t.diagnostic(`${a} − ${b}: median difference ${fmt(gap)} (bound ±${fmt(noise(m[b]))})`)
      assert.ok(Math.abs(gap) < noise(m[b]), `${a} vs ${b}: median difference ${fmt(gap)}, bound ${fmt(noise(m[b]))}`)
    }
  })

  await t.test('control: a sign-in that skipped the hash would stand out (the test can see an oracle)', () => {
    assert.equal(last.formEmpty.statusCode, 422)
    const gap = pairedGap('formKnownWrong', 'formEmpty')
    assert.ok(gap > noise(m.formKnownWrong), `hashing adds only ${fmt(gap)}: the measurement cannot tell a missing hash from noise`)
  })
})
