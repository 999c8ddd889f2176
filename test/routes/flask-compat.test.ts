import assert from 'node:assert/strict'
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { importFlaskUsers } from '../../src/db/flask-import.ts'
import { build, cookiesFrom, signIn } from '../helper.ts'
import { createAdmin } from '../factories.ts'

// A front end written for the Flask app, talking to this one after `npm run import:flask`.
const FIXTURE = resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/fixtures/flask-portfolio-sample.db')

/** The fixture's users as the Flask README lists them (uid as typed in Flask, password). */
const FLASK_USERS: Array<{ uid: string, password: string, format: RegExp }> = [
  { uid: 'ada', password: 'analytical1843', format: /^pbkdf2:sha256:260000\$/ },
  { uid: 'alan', password: 'enigma-1912', format: /^pbkdf2:sha256:600000\$/ },
  { uid: 'kj', password: '123qwerty', format: /^pbkdf2:sha256:260000\$/ },
  { uid: 'ewd', password: 'goto considered harmful', format: /^pbkdf2:sha1:1000\$/ },
  { uid: 'Margaret.H', password: 'Apollo11!', format: /^scrypt:32768:8:1\$/ },
  { uid: 'mallory', password: "p@ss' OR '1'='1", format: /^pbkdf2:sha256:260000\$/ },
  { uid: 'jose', password: 'contraseña-ñ', format: /^pbkdf2:sha256:260000\$/ }
]

const json = (cookie?: string) => ({ 'content-type': 'application/json', ...(cookie ? { cookie } : {}) })

async function appWithFlaskUsers (t: TestContext): Promise<FastifyInstance> {
  const app = await build(t)
  const dir = mkdtempSync(join(tmpdir(), 'flask-compat-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'sqlite.db')
  copyFileSync(FIXTURE, file)
  chmodSync(file, 0o600)
  const result = await importFlaskUsers(app.prisma, file)
  assert.equal(result.imported, FLASK_USERS.length)
  return app
}

const authenticate = (app: FastifyInstance, uid: string, password: string) =>
  app.inject({ method: 'POST', url: '/api/authenticate', headers: json(), payload: { uid, password } })

const storedHash = async (app: FastifyInstance, uid: string) => (await app.usersRepository.findByUid(uid))!.passwordHash

test('every imported user signs in through POST /api/authenticate with the Flask password; wrong ones fail', async (t) => {
  const app = await appWithFlaskUsers(t)
  for (const { uid, password, format } of FLASK_USERS) {
    assert.match(await storedHash(app, uid), format)
    const wrong = await authenticate(app, uid, password + 'x')
    assert.equal(wrong.statusCode, 401, `${uid}: wrong password`)
    assert.deepEqual(wrong.json(), { statusCode: 401, error: 'Unauthorized', message: 'Incorrect user id or password.' })
    assert.match(await storedHash(app, uid), format, `${uid}: a failed sign-in changes nothing`)

    const res = await authenticate(app, uid, password)
    assert.equal(res.statusCode, 200, `${uid}: ${res.body}`)
    const body = res.json()
    assert.equal(body.message, `Authentication for ${uid.toLowerCase()} successful`)
    assert.equal(body.user.uid, uid.toLowerCase())
    assert.ok(res.cookies.some(c => c.name === app.config.cookie.name && c.httpOnly), `${uid}: session cookie`)
    const me = await app.inject({ url: '/api/id', headers: { cookie: cookiesFrom(res) } })
    assert.equal(me.json().uid, uid.toLowerCase())
  }
  const failures = await app.prisma.auditEvent.findMany({ where: { type: 'sign_in_failed' } })
  assert.equal(failures.length, FLASK_USERS.length)
  assert.ok(failures.every(e => JSON.parse(e.detail).reason === 'bad_credentials'))
})

test('the first sign-in replaces the Werkzeug hash with argon2id, and the next sign-in still works', async (t) => {
  const app = await appWithFlaskUsers(t)
  for (const { uid, password } of FLASK_USERS) {
    const before = await storedHash(app, uid)
    assert.equal((await authenticate(app, uid, password)).statusCode, 200)
    const after = await storedHash(app, uid)
    assert.notEqual(after, before)
    assert.match(after, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/, `${uid}: rehashed with the configured cost`)
    assert.equal(app.passwordHasher.needsRehash(after), false)

    const again = await authenticate(app, uid, password)
    assert.equal(again.statusCode, 200, `${uid}: second sign-in`)
    assert.equal(await storedHash(app, uid), after, `${uid}: no second rehash`)
    assert.equal((await authenticate(app, uid, 'not-the-password')).statusCode, 401)
  }
})

test('mallory\'s HTML and script text is escaped on /users and intact in the JSON API', async (t) => {
  const app = await appWithFlaskUsers(t)
  const cookie = await signIn(app, (await app.usersRepository.findByUid('kj'))!.id)

  const page = await app.inject({ url: '/users', headers: { cookie } })
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /<td>&lt;b&gt;Bob&lt;\/b&gt; &amp; &quot;Eve&quot;<\/td>/)
  assert.doesNotMatch(page.body, /<b>Bob<\/b>/)
  assert.doesNotMatch(page.body, /<script>alert/)
  assert.match(page.body, /<td>José Ñúñez<\/td>/)

  const api = await app.inject({ url: '/api/users', headers: { cookie } })
  const mallory = api.json().find((u: { uid: string }) => u.uid === 'mallory')
  assert.equal(mallory.name, '<b>Bob</b> & "Eve"')
  assert.deepEqual(mallory.hashmap, { note: '<script>alert(1)</script>' })
  assert.match(api.headers['content-type'] as string, /^application\/json/)
})

test('GET /api/users answers with exactly the Flask fields, dates and ages as Flask computed them', async (t) => {
  const app = await appWithFlaskUsers(t)
  const cookie = await signIn(app, (await app.usersRepository.findByUid('ada'))!.id)
  const res = await app.inject({ url: '/api/users', headers: { cookie } })
  assert.equal(res.statusCode, 200)
  const users = res.json() as Array<Record<string, unknown>>
  assert.equal(users.length, FLASK_USERS.length)
  for (const user of users) assert.deepEqual(Object.keys(user).sort(), ['access', 'age', 'dob', 'hashmap', 'id', 'name', 'role', 'uid'])
  const ada = users.find(u => u.uid === 'ada')!
  assert.equal(ada.dob, '1815-12-10')
  assert.equal(typeof ada.age, 'number')
  assert.equal(ada.role, 'Admin')
  assert.equal(ada.access, 'rw', 'an Admin may change every row')
  assert.deepEqual(ada.hashmap, { job: 'mathematician', company: 'Analytical Engine' })
  const ewd = users.find(u => u.uid === 'ewd')!
  assert.deepEqual([ewd.dob, ewd.age, ewd.hashmap], [null, null, {}])
})

test('PUT and DELETE /api/users take the Flask bodies; error bodies carry a message', async (t) => {
  const app = await appWithFlaskUsers(t)
  const signedIn = await authenticate(app, 'ada', 'analytical1843')
  const cookie = cookiesFrom(signedIn)

  const put = await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { uid: 'kj', name: 'Katherine G. Johnson', dob: '1918-08-26' } })
  assert.equal(put.statusCode, 200, put.body)
  assert.equal(put.json().name, 'Katherine G. Johnson')
  const del = await app.inject({ method: 'DELETE', url: '/api/users', headers: json(cookie), payload: { uid: 'mallory' } })
  assert.equal(del.statusCode, 200)
  assert.equal(del.json().message, 'Deleted user mallory')

  const errors = [
    await app.inject({ url: '/api/users' }),
    await app.inject({ method: 'DELETE', url: '/api/users', headers: json(cookie), payload: { uid: 'mallory' } }),
    await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { uid: 'kj', nickname: 'KJ' } }),
    await app.inject({ method: 'POST', url: '/api/authenticate', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'uid=ada&password=analytical1843' })
  ]
  assert.deepEqual(errors.map(e => e.statusCode), [401, 404, 400, 415])
  for (const res of errors) {
    const body = res.json()
    assert.equal(typeof body.message, 'string')
    assert.ok(body.message.length > 0)
    assert.equal(body.statusCode, res.statusCode)
  }
})

test('a malformed stored hash fails sign-in with the usual 401 and tells the Admin why on /audit, never the hash', async (t) => {
  const app = await appWithFlaskUsers(t)
  const broken = [
    ['kj', 'pbkdf2:sha256:260000$jyoRRVqBk0$41ba4b2fdc4bf601'],
    ['alan', 'sha256$pIAc7wW26J$29167db03cb052fc05a73826261b5a597a07e59eb3269eb701b32816b3b43509'],
    ['ewd', 'pbkdf2:sha256:99000000$bHxxiMLgkI$5f49ee2d5edb4a642b5e2d3ac34f2172073d3cc15f49ee2d5edb4a642b5e2d3a']
  ] as const
  for (const [uid, hash] of broken) {
    const user = (await app.usersRepository.findByUid(uid))!
    await app.usersRepository.setPasswordHash(user.id, hash)
  }
  for (const [uid] of broken) {
    const password = FLASK_USERS.find(u => u.uid === uid)!.password
    const res = await authenticate(app, uid, password)
    assert.equal(res.statusCode, 401, uid)
    assert.deepEqual(res.json(), { statusCode: 401, error: 'Unauthorized', message: 'Incorrect user id or password.' })
    assert.equal(res.cookies.length, 0)
  }

  const events = await app.prisma.auditEvent.findMany({ where: { type: 'sign_in_failed' }, orderBy: { id: 'asc' } })
  assert.deepEqual(events.map(e => [e.targetUid, JSON.parse(e.detail)]), [
    ['kj', { reason: 'unsupported_hash', problem: 'Werkzeug digest has the wrong length' }],
    ['alan', { reason: 'unsupported_hash', problem: 'single-round sha256 digest (too weak to accept)' }],
    ['ewd', { reason: 'unsupported_hash', problem: 'pbkdf2 iteration count above 5000000' }]
  ])
  assert.ok(events.every(e => e.targetId !== null))

  const { user: admin } = await createAdmin(app)
  const audit = await app.inject({ url: '/audit?type=sign_in_failed', headers: { cookie: await signIn(app, admin.id) } })
  assert.equal(audit.statusCode, 200)
  assert.match(audit.body, /reason: unsupported_hash; problem: single-round sha256 digest \(too weak to accept\)/)
  for (const secret of ['jyoRRVqBk0', '41ba4b2f', 'pIAc7wW26J', 'bHxxiMLgkI']) {
    assert.ok(!audit.body.includes(secret), `the audit page shows part of a hash (${secret})`)
    assert.ok(!events.some(e => e.detail.includes(secret)))
  }
})

test('a password changed while the first sign-in rehashes is kept, not overwritten with the old one', async (t) => {
  const app = await appWithFlaskUsers(t)
  const jose = (await app.usersRepository.findByUid('jose'))!
  const changed = await app.passwordHasher.hash('a brand new password')
  const hash = app.passwordHasher.hash
  // The change lands between the check of the old password and the upgrade of its hash.
  t.mock.method(app.passwordHasher, 'hash', async (password: string) => {
    await app.usersRepository.setPasswordHash(jose.id, changed)
    return hash(password)
  })
  assert.equal((await authenticate(app, 'jose', 'contraseña-ñ')).statusCode, 200)
  assert.equal(await storedHash(app, 'jose'), changed)
})

test('a Flask password shorter than today\'s minimum still signs in (the minimum is for new passwords)', async (t) => {
  const app = await appWithFlaskUsers(t)
  const toby = await app.prisma.user.create({
    // Flask's demo user: password '123toby' (7 characters), hashed by Python's hashlib as Werkzeug does.
    data: { uid: 'flasktoby', name: 'Thomas Edison', role: 'Admin', passwordHash: 'pbkdf2:sha256:1000$Ab12Cd34Ef$1027defd316f4a0d52230db068d12f6557f94424640b38480eba46db8d9e063a' }
  })
  assert.equal((await authenticate(app, 'flasktoby', '123toby')).statusCode, 200)
  assert.match((await app.usersRepository.findById(toby.id))!.passwordHash, /^\$argon2id\$/)
  assert.equal((await authenticate(app, 'flasktoby', '123toby')).statusCode, 200)
})
