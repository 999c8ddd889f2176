import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { Semaphore } from '../../src/lib/semaphore.ts'
import { parseWerkzeugHash, verifyWerkzeugHash } from '../../src/lib/werkzeug-hash.ts'
import { createPasswordHasher } from '../../src/plugins/app/password-hasher.ts'

// The Flask sample database sits next to the repository (../shared/fixtures in CI and here).
const FIXTURE = resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/fixtures/flask-portfolio-sample.db')

/** The users of the fixture and their passwords (../shared/fixtures/README.md). */
const FLASK_PASSWORDS: Record<string, string> = {
  ada: 'analytical1843',
  alan: 'enigma-1912',
  kj: '123qwerty',
  ewd: 'goto considered harmful',
  'Margaret.H': 'Apollo11!',
  mallory: "p@ss' OR '1'='1",
  jose: 'contraseña-ñ'
}

function fixtureHashes (): Map<string, string> {
  const db = new Database(FIXTURE, { readonly: true, fileMustExist: true })
  try {
    const rows = db.prepare('SELECT _uid AS uid, _password AS hash FROM users').all() as Array<{ uid: string, hash: string }>
    return new Map(rows.map(r => [r.uid, r.hash]))
  } finally {
    db.close()
  }
}

const hashes = fixtureHashes()

test('every fixture user\'s hash verifies with the listed password, and only with it', async () => {
  assert.deepEqual([...hashes.keys()].sort(), Object.keys(FLASK_PASSWORDS).sort())
  const formats = new Set<string>()
  for (const [uid, stored] of hashes) {
    formats.add(stored.slice(0, stored.indexOf('$')))
    const password = FLASK_PASSWORDS[uid]
    assert.deepEqual(await verifyWerkzeugHash(stored, password), { ok: true, match: true }, uid)
    assert.deepEqual(await verifyWerkzeugHash(stored, password + ' '), { ok: true, match: false }, `${uid}: trailing space`)
    assert.deepEqual(await verifyWerkzeugHash(stored, password.toUpperCase()), { ok: true, match: false }, `${uid}: other case`)
  }
  assert.deepEqual([...formats].sort(), ['pbkdf2:sha1:1000', 'pbkdf2:sha256:260000', 'pbkdf2:sha256:600000', 'scrypt:32768:8:1'])
})

test('the salt and the password are used as UTF-8 text; pbkdf2 derives as many bytes as the digest', async () => {
  // Vectors from Python's hashlib, as Werkzeug calls it.
  const sha512 = 'pbkdf2:sha512:1000$S4ltS4lt$98580fe12eac95f9fd2e83c038bccaae881038df4a6041a5f57f087cc71c2f75b1683ac6c4c4c869368b395088248d8bc8d965d35761d9b76ac0fa0eab6f14f4'
  assert.deepEqual(await verifyWerkzeugHash(sha512, 'correct horse'), { ok: true, match: true })
  const unicode = 'pbkdf2:sha256:1000$sál$8e352c11c29268bb9fb8bf96abfa8895ef64bf26443eb472fcca2ee6aec55260'
  assert.deepEqual(await verifyWerkzeugHash(unicode, 'ñandú 🦤'), { ok: true, match: true })
  assert.deepEqual(await verifyWerkzeugHash(unicode, 'nandu 🦤'), { ok: true, match: false })
  const scrypt = 'scrypt:1024:8:2$sAlTsAlT$5fa55e6fb2d7951090326f1c6e882af7e95baf1444243313b027215429757c94f75a385f410ef90602b9853d3a952de5c0804a3881ee1c9dfcb0ac49c113a1fb'
  assert.deepEqual(await verifyWerkzeugHash(scrypt, 'correct horse'), { ok: true, match: true })
  const parsed = parseWerkzeugHash(scrypt)
  assert.ok(parsed.ok)
  assert.deepEqual(parsed.hash.method, { kind: 'scrypt', n: 1024, r: 8, p: 2 })
  assert.equal(parsed.hash.expected.length, 64)
  const sha1 = parseWerkzeugHash(hashes.get('ewd')!)
  assert.ok(sha1.ok)
  assert.deepEqual(sha1.hash.method, { kind: 'pbkdf2', digest: 'sha1', iterations: 1000 })
  assert.equal(sha1.hash.expected.length, 20)
})

const ada = hashes.get('ada')!
const [, adaSalt, adaHex] = ada.split('$')

/** Stored values that must be refused, and the words of the refusal. */
const REFUSED: Array<[string, RegExp]> = [
  ['', /empty password hash/],
  ['hunter2-plaintext', /unknown hash format/],
  [`sha256$${adaSalt}$${adaHex}`, /single-round sha256 digest/],
  ['md5$abc$0cc175b9c0f1b6a831c399e269772661', /single-round md5 digest/],
  ['plain$$hunter2-plaintext', /plain text/],
  ['$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW', /bcrypt/],
  ['$6$rounds=5000$salt$hash', /unknown hash format/],
  ['pbkdf2:sha256', /without salt and digest/],
  [`pbkdf2:sha256$${adaSalt}$${adaHex}`, /without a digest name and iteration count/],
  [`pbkdf2:md5:1000$${adaSalt}$${'0'.repeat(32)}`, /unsupported digest/],
  [`pbkdf2:SHA256:1000$${adaSalt}$${adaHex}`, /unsupported digest/],
  [`pbkdf2:__proto__:1000$${adaSalt}$${adaHex}`, /unsupported digest/],
  [`pbkdf2:sha256:0$${adaSalt}$${adaHex}`, /iteration count is not a positive number/],
  [`pbkdf2:sha256:-5$${adaSalt}$${adaHex}`, /iteration count is not a positive number/],
  [`pbkdf2:sha256:1e6$${adaSalt}$${adaHex}`, /iteration count is not a positive number/],
  [`pbkdf2:sha256:0260000$${adaSalt}$${adaHex}`, /iteration count is not a positive number/],
  [`pbkdf2:sha256:5000001$${adaSalt}$${adaHex}`, /iteration count above 5000000/],
  [`pbkdf2:sha256:99999999999999999999$${adaSalt}$${adaHex}`, /iteration count is not a positive number/],
  [`pbkdf2:sha256:260000:1$${adaSalt}$${adaHex}`, /without a digest name and iteration count/],
  [`pbkdf2:sha256:260000$$${adaHex}`, /empty or oversized salt/],
  [`pbkdf2:sha256:260000$${'s'.repeat(2000)}$${adaHex}`, /empty or oversized salt/],
  [`pbkdf2:sha256:260000$${adaSalt}$${adaHex.slice(2)}`, /wrong length/],
  [`pbkdf2:sha256:260000$${adaSalt}$${adaHex}00`, /wrong length/],
  [`pbkdf2:sha256:260000$${adaSalt}$${adaHex.slice(0, -1)}g`, /not hexadecimal/],
  [`pbkdf2:sha256:260000$${adaSalt}$${adaHex}$extra`, /not hexadecimal/],
  [`pbkdf2:sha256:260000$${adaSalt}$`, /wrong length/],
  [`scrypt:32768:8$${adaSalt}$${'0'.repeat(128)}`, /without its n, r and p/],
  [`scrypt:30000:8:1$${adaSalt}$${'0'.repeat(128)}`, /not a power of two/],
  [`scrypt:1:8:1$${adaSalt}$${'0'.repeat(128)}`, /not a power of two/],
  [`scrypt:2097152:8:1$${adaSalt}$${'0'.repeat(128)}`, /n above 2\^20/],
  [`scrypt:1048576:16:1$${adaSalt}$${'0'.repeat(128)}`, /r or p too large/],
  [`scrypt:32768:8:17$${adaSalt}$${'0'.repeat(128)}`, /r or p too large/],
  [`scrypt:32768:0:1$${adaSalt}$${'0'.repeat(128)}`, /not a positive number/],
  [`scrypt:32768:8:1$${adaSalt}$${'0'.repeat(64)}`, /wrong length/]
]

test('malformed and unsupported hashes are refused with a reason, quickly, and the reason never quotes the hash', async () => {
  for (const [stored, reason] of REFUSED) {
    const started = process.hrtime.bigint()
    const result = await verifyWerkzeugHash(stored, 'analytical1843')
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    assert.equal(result.ok, false, stored.slice(0, 40))
    assert.ok(!result.ok)
    assert.match(result.problem, reason, stored.slice(0, 40))
    // Nothing is computed for a refused hash: no cost can be forced on the server.
    assert.ok(ms < 50, `${stored.slice(0, 40)} took ${ms} ms`)
    for (const secret of [adaSalt, adaHex.slice(0, 12), 'hunter2', 'R9h/cIPz']) {
      assert.ok(!result.problem.includes(secret), `the reason for ${stored.slice(0, 40)} quotes the hash`)
    }
  }
})

test('never throws, whatever the stored value', async () => {
  const samples = ['$', '$$', '$$$', 'pbkdf2:', 'scrypt:', 'pbkdf2:$$', 'scrypt:::$$', 'pbkdf2:sha256:1$\u0000$', '\uD800', 'pbkdf2:sha256:1$s$' + 'ff'.repeat(32)]
  for (let i = 0; i < 200; i++) samples.push(randomBytes(i % 80).toString(i % 2 === 0 ? 'latin1' : 'base64'))
  for (const stored of samples) {
    const result = await verifyWerkzeugHash(stored, 'password')
    assert.equal(typeof result.ok, 'boolean')
  }
})

test('a check runs off the event loop: other work goes on while alan\'s 600 000 iterations run', async () => {
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 1)
  try {
    assert.deepEqual(await verifyWerkzeugHash(hashes.get('alan')!, 'enigma-1912'), { ok: true, match: true })
  } finally {
    clearInterval(timer)
  }
  assert.ok(ticks >= 5, `the event loop ran ${ticks} timers during the check`)
})

test('the password hasher checks Werkzeug hashes through its semaphore and asks for a rehash', async (t) => {
  const hasher = createPasswordHasher({ memoryCost: 1024, timeCost: 1, maxConcurrent: 2 })
  const run = t.mock.method(Semaphore.prototype, 'run')
  assert.equal(await hasher.verify(hashes.get('kj')!, '123qwerty'), true)
  assert.equal(run.mock.callCount(), 1, 'the Werkzeug check took a slot')
  assert.equal(await hasher.verify(hashes.get('Margaret.H')!, 'Apollo11!'), true)
  assert.equal(await hasher.verify(hashes.get('Margaret.H')!, 'apollo11!'), false)

  for (const stored of hashes.values()) {
    assert.equal(hasher.needsRehash(stored), true)
    assert.equal(hasher.unsupportedReason(stored), null)
  }
  const current = await hasher.hash('new password')
  assert.equal(hasher.needsRehash(current), false, 'argon2id with the configured cost')
  const costlier = createPasswordHasher({ memoryCost: 2048, timeCost: 1, maxConcurrent: 1 })
  assert.equal(costlier.needsRehash(current), true, 'other cost')
  assert.equal(await costlier.verify(current, 'new password'), true, 'still verifies')
  assert.equal(hasher.needsRehash(current.replace('$argon2id$', '$argon2i$')), true, 'argon2i')
})

test('the password hasher refuses unusable hashes after the same work as a real check', async (t) => {
  const hasher = createPasswordHasher({ memoryCost: 1024, timeCost: 1, maxConcurrent: 2 })
  const dummy = t.mock.method(hasher, 'verifyDummy')
  for (const [stored] of REFUSED) {
    assert.equal(await hasher.verify(stored, 'analytical1843'), false)
    assert.notEqual(hasher.unsupportedReason(stored), null)
  }
  assert.equal(await hasher.verify('$argon2id$v=19$m=1024,t=1,p=1$garbage', 'x'), false)
  assert.equal(hasher.unsupportedReason('$argon2id$v=19$m=1024,t=1,p=1$garbage'), 'malformed argon2 hash')
  assert.equal(dummy.mock.callCount(), REFUSED.length + 1, 'each refusal spent the dummy check')
})
