import assert from 'node:assert/strict'
import { test } from 'node:test'
import { build, signIn } from '../../helper.ts'
import { createAdmin, createUser, snapshot } from '../../factories.ts'

const json = (cookie?: string) => ({ 'content-type': 'application/json', ...(cookie ? { cookie } : {}) })

test('POST /api/authenticate signs in with {uid, password} and sets the session cookie', async (t) => {
  const app = await build(t)
  const { user, password } = await createUser(app, { uid: 'apiuser' })
  const res = await app.inject({ method: 'POST', url: '/api/authenticate', headers: json(), payload: { uid: 'APIUSER', password } })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['cache-control'], 'no-store')
  const body = res.json()
  assert.equal(body.user.id, user.id)
  assert.equal(body.user.passwordHash, undefined)
  const cookie = res.cookies.find(c => c.name === 'token')
  assert.ok(cookie?.httpOnly)
  const me = await app.inject({ url: '/api/id', headers: { cookie: `token=${cookie.value}` } })
  assert.equal(me.statusCode, 200)
  assert.deepEqual(Object.keys(me.json()).sort(), ['age', 'dob', 'hashmap', 'id', 'name', 'role', 'uid'])
})

test('POST /api/authenticate answers 401 with the error shape for bad credentials', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  for (const uid of [user.uid, 'nobody']) {
    const res = await app.inject({ method: 'POST', url: '/api/authenticate', headers: json(), payload: { uid, password: 'wrong-password' } })
    assert.equal(res.statusCode, 401)
    assert.deepEqual(res.json(), { statusCode: 401, error: 'Unauthorized', message: 'Incorrect user id or password.' })
    assert.equal(res.cookies.length, 0)
  }
})

test('POST /api/logout revokes the session and clears the cookie', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const res = await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie } })
  assert.equal(res.statusCode, 200)
  assert.ok(res.cookies.find(c => c.name === 'token' && c.value === ''))
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)
})

test('GET /api/users needs a session and marks each row rw or ro', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { user: admin } = await createAdmin(app)
  assert.equal((await app.inject({ url: '/api/users' })).statusCode, 401)
  const asUser = (await app.inject({ url: '/api/users', headers: { cookie: await signIn(app, user.id) } })).json() as Array<{ id: number, access: string, passwordHash?: string }>
  assert.equal(asUser.find(u => u.id === user.id)?.access, 'rw')
  assert.equal(asUser.find(u => u.id === admin.id)?.access, 'ro')
  assert.ok(asUser.every(u => u.passwordHash === undefined))
  const asAdmin = (await app.inject({ url: '/api/users', headers: { cookie: await signIn(app, admin.id) } })).json() as Array<{ access: string }>
  assert.ok(asAdmin.every(u => u.access === 'rw'))
})

test('POST /api/users creates a user (201) with a normalised uid; duplicates get 409; bad input 400', async (t) => {
  const app = await build(t)
  const created = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload: { uid: 'Ｍixed.Case', name: 'Mixed', password: 'long-enough-1', dob: '1999-12-31', hashmap: { team: 'blue' } } })
  assert.equal(created.statusCode, 201)
  assert.equal(created.json().uid, 'mixed.case')
  assert.deepEqual(created.json().hashmap, { team: 'blue' })
  const before = await snapshot(app)
  const dup = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload: { uid: 'MIXED.case', name: 'Again', password: 'long-enough-1' } })
  assert.equal(dup.statusCode, 409)
  assert.equal(dup.json().message, 'That user id is already taken.')
  for (const payload of [
    { uid: 'ok-uid', name: 'X', password: 'short' },
    { uid: 'ok-uid', name: 'X', password: 'long-enough-1', role: 'Admin' },
    { uid: { startsWith: 'a' }, name: 'X', password: 'long-enough-1' },
    { uid: 'ok-uid', name: 'X', password: 'long-enough-1', dob: '2020-02-30' }
  ]) {
    const res = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload })
    assert.equal(res.statusCode, 400, JSON.stringify(payload))
    assert.equal(res.json().statusCode, 400)
  }
  assert.deepEqual(await snapshot(app), before)
})

test('PUT /api/users updates the caller; role changes need an Admin; others need an Admin', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { user: other } = await createUser(app)
  const { user: admin } = await createAdmin(app)
  const cookie = await signIn(app, user.id)

  const self = await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { name: 'Renamed', hashmap: { a: 1 } } })
  assert.equal(self.statusCode, 200)
  assert.equal(self.json().name, 'Renamed')

  const before = await snapshot(app)
  assert.equal((await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { role: 'Admin' } })).statusCode, 403)
  assert.equal((await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { uid: other.uid, name: 'Hacked' } })).statusCode, 403)
  assert.equal((await app.inject({ method: 'PUT', url: `/api/users/${other.id}`, headers: json(cookie), payload: { name: 'Hacked' } })).statusCode, 403)
  assert.equal((await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { passwordHash: 'x' } })).statusCode, 400)
  assert.deepEqual(await snapshot(app), before)

  const adminCookie = await signIn(app, admin.id)
  const promoted = await app.inject({ method: 'PUT', url: '/api/users', headers: json(adminCookie), payload: { uid: other.uid, role: 'Admin' } })
  assert.equal(promoted.statusCode, 200)
  assert.equal(promoted.json().role, 'Admin')
  const byId = await app.inject({ method: 'PUT', url: `/api/users/${other.id}`, headers: json(adminCookie), payload: { name: 'By Id' } })
  assert.equal(byId.json().name, 'By Id')
})

test('changing your own password through the API needs currentPassword, renews this session and ends all others', async (t) => {
  const app = await build(t)
  const { user, password } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const other = await signIn(app, user.id)
  assert.equal((await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { password: 'new-password-1' } })).statusCode, 400)
  const wrong = await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { password: 'new-password-1', currentPassword: 'wrong-password' } })
  assert.equal(wrong.statusCode, 400)
  assert.equal(wrong.json().message, 'currentPassword is not your current password.')
  const ok = await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { password: 'new-password-1', currentPassword: password } })
  assert.equal(ok.statusCode, 200)
  // This device gets a fresh session (new jti); every token from before the change is dead.
  const renewed = ok.cookies.find(c => c.name === 'token')
  assert.ok(renewed && renewed.value !== '')
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: `token=${renewed.value}` } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: other } })).statusCode, 401)
})

test('password changes through the API count towards LOGIN_RATE_LIMIT with sign-ins; other updates do not', async (t) => {
  const app = await build(t, { LOGIN_RATE_LIMIT: '3' })
  const { user, password } = await createUser(app)
  const cookie = await signIn(app, user.id)
  // Name changes are not password attempts: any number of them.
  for (let i = 0; i < 5; i++) {
    assert.equal((await app.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: json(cookie), payload: { name: `Name ${i}` } })).statusCode, 200)
  }
  // Guesses of the current password, by uid and by id, share one counter per client.
  const guess = (url: string) => app.inject({ method: 'PUT', url, headers: json(cookie), payload: { password: 'new-password-1', currentPassword: 'guess' } })
  assert.equal((await guess('/api/users')).statusCode, 400)
  assert.equal((await guess(`/api/users/${user.id}`)).statusCode, 400)
  assert.equal((await guess('/api/users')).statusCode, 400)
  const limited = await guess(`/api/users/${user.id}`)
  assert.equal(limited.statusCode, 429)
  assert.ok(Number(limited.headers['retry-after']) > 0)
  // The right password is refused too until the window ends, and so is a sign-in from this client.
  assert.equal((await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { password: 'new-password-1', currentPassword: password } })).statusCode, 429)
  assert.equal((await app.inject({ method: 'POST', url: '/api/authenticate', headers: json(), payload: { uid: user.uid, password } })).statusCode, 429)
  assert.equal((await app.usersRepository.findById(user.id))?.passwordHash, user.passwordHash, 'the password did not change')
  // Still no limit on a name change.
  assert.equal((await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { name: 'Later' } })).statusCode, 200)
})

test('DELETE /api/users is for Admins, by uid or id, never themselves', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const { user: victim } = await createUser(app)
  const { user: admin } = await createAdmin(app)
  const userCookie = await signIn(app, user.id)
  const adminCookie = await signIn(app, admin.id)
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/users', headers: json(userCookie), payload: { uid: victim.uid } })).statusCode, 403)
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/users/${victim.id}`, headers: { cookie: userCookie } })).statusCode, 403)
  assert.ok(await app.usersRepository.findById(victim.id))
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/users', headers: json(adminCookie), payload: { uid: admin.uid } })).statusCode, 409)
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/users', headers: json(adminCookie), payload: { uid: 'ghost' } })).statusCode, 404)
  const ok = await app.inject({ method: 'DELETE', url: '/api/users', headers: json(adminCookie), payload: { uid: victim.uid } })
  assert.equal(ok.statusCode, 200)
  assert.equal(await app.usersRepository.findById(victim.id), null)
  const byId = await app.inject({ method: 'DELETE', url: `/api/users/${user.id}`, headers: { cookie: adminCookie } })
  assert.equal(byId.statusCode, 200)
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie: userCookie } })).statusCode, 401)
})

test('a user has one URL: /api/users/:id answers only the plain decimal id; other spellings and unknown ids are 404, out of range 400', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  assert.equal((await app.inject({ url: `/api/users/${user.id}`, headers: { cookie } })).json().access, 'rw')
  // Ajv's coercion alone read all of these as the same user.
  const aliases = [`0${user.id}`, `0x${user.id.toString(16)}`, `${user.id}e0`, `+${user.id}`, `${user.id}.0`, `%20${user.id}`, `${user.id}%20`]
  for (const id of [...aliases, '-1', '0', '1.5', 'abc', '1%20OR%201=1', '1%27', '9999999999999999999999']) {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const res = await app.inject({ method, url: `/api/users/${id}`, ...(method === 'PUT' ? { headers: json(cookie), payload: { name: 'Renamed' } } : { headers: { cookie } }) })
      assert.equal(res.statusCode, 404, `${method} ${id}`)
      assert.equal(res.json().error, 'Not Found')
    }
  }
  assert.equal((await app.inject({ url: '/api/users/999999', headers: { cookie } })).statusCode, 404)
  // A plain id past the database's integer range is a 400, not a database error.
  assert.equal((await app.inject({ url: '/api/users/2147483648', headers: { cookie } })).statusCode, 400)
  // The pages take the same spelling only.
  const admin = await createAdmin(app)
  const adminCookie = await signIn(app, admin.user.id)
  assert.equal((await app.inject({ url: `/users/${user.id}/delete`, headers: { cookie: adminCookie } })).statusCode, 200)
  for (const id of aliases) assert.equal((await app.inject({ url: `/users/${id}/delete`, headers: { cookie: adminCookie } })).statusCode, 404, id)
  // Nothing was changed on the way.
  assert.equal((await app.usersRepository.findById(user.id))?.name, user.name)
})

test('state-changing API calls accept only application/json bodies', async (t) => {
  const app = await build(t)
  const before = await snapshot(app)
  const form = await app.inject({ method: 'POST', url: '/api/users', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'uid=abc&name=A&password=long-enough-1' })
  assert.equal(form.statusCode, 415)
  const text = await app.inject({ method: 'POST', url: '/api/authenticate', headers: { 'content-type': 'text/plain' }, payload: '{"uid":"a","password":"b"}' })
  assert.equal(text.statusCode, 415)
  assert.deepEqual(await snapshot(app), before)
})

test('unknown API paths answer JSON 404 whether signed in or not', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/api/nope' })
  assert.equal(res.statusCode, 404)
  assert.deepEqual(res.json(), { statusCode: 404, error: 'Not Found', message: 'No such API route.' })
})

test('GET /api/health is 200 when the database answers and 503 when it does not', async (t) => {
  const app = await build(t)
  const ok = await app.inject({ url: '/api/health' })
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), { status: 'ok', database: 'ok', redis: 'not configured' })
  // The Prisma client is a proxy that t.mock.method cannot wrap: shadow the method instead.
  Object.defineProperty(app.prisma, '$queryRaw', { configurable: true, value: async () => { throw new Error('database is locked') } })
  const down = await app.inject({ url: '/api/health' })
  assert.equal(down.statusCode, 503)
  assert.doesNotMatch(down.body, /locked/)
})

test('GET /api/openapi.json serves an OpenAPI 3.1 document of the API only', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/api/openapi.json' })
  assert.equal(res.statusCode, 200)
  const doc = res.json()
  assert.equal(doc.openapi, '3.1.0')
  assert.ok(doc.paths['/api/users'].post)
  assert.ok(doc.paths['/api/authenticate'].post)
  assert.equal(doc.paths['/login'], undefined)
  assert.equal(doc.components.securitySchemes.cookieAuth.name, 'token')
})

test('the OpenAPI document names the session cookie as this deployment sets it (__Host-token over HTTPS)', async (t) => {
  const app = await build(t, { COOKIE_SECURE: 'true' })
  const doc = (await app.inject({ url: '/api/openapi.json' })).json()
  assert.equal(doc.components.securitySchemes.cookieAuth.name, '__Host-token')
  assert.equal(app.config.cookie.name, '__Host-token')
})

test('the OpenAPI document states the user id, name and password rules, not only the size bound', async (t) => {
  const app = await build(t)
  const doc = (await app.inject({ url: '/api/openapi.json' })).json()
  const signUp = doc.paths['/api/users'].post.requestBody.content['application/json'].schema
  const props = signUp.properties ?? doc.components.schemas[signUp.$ref?.split('/').at(-1)]?.properties
  assert.match(props.uid.description, /2 to 40 letters, digits/)
  assert.match(props.name.description, /1 to 100 characters/)
  assert.match(props.password.description, /8 to 256 characters/)
  // A 41-character id is within the schema's size bound and refused by the rule it states.
  const res = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload: { uid: 'a'.repeat(41), name: 'Long Id', password: 'long-enough-1' } })
  assert.equal(res.statusCode, 400)
})

test('a hashmap nested deeper than allowed is a 400, even thousands of levels deep', async (t) => {
  const app = await build(t)
  const before = await snapshot(app)
  for (const depth of [9, 5000]) {
    const payload = `{"uid":"deep${depth}","name":"D","password":"long-enough-1","hashmap":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`
    const res = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload })
    assert.equal(res.statusCode, 400, String(depth))
    assert.match(res.json().message, /levels of nesting/)
  }
  assert.deepEqual(await snapshot(app), before)
  const ok = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload: { uid: 'shallow', name: 'S', password: 'long-enough-1', hashmap: { a: { b: [1, 2, { c: true }] } } } })
  assert.equal(ok.statusCode, 201)
})

test('a hashmap key longer than 64 characters is a 400, on sign-up and on update; 64 is accepted', async (t) => {
  const app = await build(t)
  const before = await snapshot(app)
  const long = { ['k'.repeat(65)]: 1 }
  const signUp = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload: { uid: 'longkey', name: 'L', password: 'long-enough-1', hashmap: long } })
  assert.equal(signUp.statusCode, 400)
  assert.deepEqual(await snapshot(app), before)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const update = await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { hashmap: long } })
  assert.equal(update.statusCode, 400)
  const ok = await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { hashmap: { ['k'.repeat(64)]: 1 } } })
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(Object.keys(ok.json().hashmap), ['k'.repeat(64)])
})

test('a name or user id with invisible characters (bidi controls, zero-width space, BOM, tags, Hangul fillers, unassigned) is a 400: they hide or reorder what the users list shows; joiners and emoji stay', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  for (const name of ['\u202Egnp.exe', 'a\u202Ab', 'a\u2066b\u2069', 'x\u202D', 'Ada\u200B', '\u200B', 'a\u061Cb', 'a\uFEFFb', 'a\u2060b', 'x\u{E0041}', '\u3164\u3164', 'Thomas Edison\u034F', 'a\uFE0F', 'x\uE000', 'x\uFFFE', 'x\u2065']) {
    const res = await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { name } })
    assert.equal(res.statusCode, 400, JSON.stringify(name))
    assert.match(res.json().message, /^Name: /)
    const signUp = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload: { uid: 'bidi', name, password: 'long-enough-1' } })
    assert.equal(signUp.statusCode, 400, JSON.stringify(name))
  }
  assert.equal((await app.usersRepository.findByUid(user.uid))!.name, user.name)
  const joined = await app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload: { name: 'می\u200Cخواهم \u{1F468}\u200D\u{1F469} \u2764\uFE0F' } })
  assert.equal(joined.statusCode, 200)
  // A user id that reads as another's: the Hangul fillers are letters, but show nothing.
  for (const uid of ['toby\u3164', 'to\u115Fby']) {
    const res = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload: { uid, name: 'Thomas Edison', password: 'long-enough-1' } })
    assert.equal(res.statusCode, 400, JSON.stringify(uid))
    assert.match(res.json().message, /^User id: /)
  }
})

test('a value outside a union is one readable sentence (role, date of birth), other schema errors keep Ajv\'s words', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  const cookie = await signIn(app, user.id)
  const put = (payload: object) => app.inject({ method: 'PUT', url: '/api/users', headers: json(cookie), payload })
  const role = await put({ role: 'Root' })
  assert.equal(role.statusCode, 400)
  assert.deepEqual(role.json(), { statusCode: 400, error: 'Bad Request', message: 'body/role must be one of "User", "Admin"' })
  const dob = await put({ dob: '12-09-1906' })
  assert.equal(dob.statusCode, 400)
  assert.equal(dob.json().message, 'body/dob must be a string matching ^(\\d{4}-\\d{2}-\\d{2})?$, or null')
  const long = await put({ dob: '<img src=x>' })
  assert.equal(long.json().message, 'body/dob must be a string of at most 10 characters, or null')
  const unknown = await put({ admin: true })
  assert.equal(unknown.json().message, 'body must NOT have additional properties')
  const type = await put({ hashmap: 'x' })
  assert.equal(type.json().message, 'body/hashmap must be object')
})

test('user ids that could never be stored (control characters, NUL) are a normal failed sign-in', async (t) => {
  const app = await build(t)
  for (const uid of ['\u0000', 'to\u0000by', 'x', 'a'.repeat(41), '-dash-first']) {
    const res = await app.inject({ method: 'POST', url: '/api/authenticate', headers: json(), payload: { uid, password: 'whatever-password' } })
    assert.equal(res.statusCode, 401, JSON.stringify(uid))
  }
})

test('a hashmap holding the NUL character is a 400 (no database can store it in JSON)', async (t) => {
  const app = await build(t)
  for (const hashmap of [{ a: 'x\u0000y' }, { 'k\u0000': 1 }, { a: [{ b: '\u0000' }] }]) {
    const res = await app.inject({ method: 'POST', url: '/api/users', headers: json(), payload: { uid: 'nulmap', name: 'N', password: 'long-enough-1', hashmap } })
    assert.equal(res.statusCode, 400, JSON.stringify(hashmap))
  }
  assert.equal(await app.usersRepository.findByUid('nulmap'), null)
})

test('text that cannot be stored as sent (lone surrogates, 1e400) is a 400 naming the field, on sign-up and on update; nothing changes', async (t) => {
  const app = await build(t)
  // Raw JSON: the \u escapes reach the server as lone surrogate halves.
  const signUp = (body: string) => app.inject({ method: 'POST', url: '/api/users', headers: json(), payload: body })
  const cases: Array<[string, RegExp]> = [
    ['{"uid":"surr","name":"a","password":"Passw0rd-long-1","hashmap":{"k":"\\udfff"}}', /Extra attributes: text must be valid Unicode/],
    ['{"uid":"surr","name":"a","password":"Passw0rd-long-1","hashmap":{"\\ud800":1}}', /Extra attributes: text must be valid Unicode/],
    ['{"uid":"surr","name":"a","password":"Passw0rd-long-1","hashmap":{"k":1e400}}', /Extra attributes: numbers must be finite/],
    ['{"uid":"surr","name":"a\\ud800","password":"Passw0rd-long-1"}', /Name: must be valid Unicode/],
    ['{"uid":"surr","name":"a","password":"Passw0rd-long-\\ud800"}', /Password: must be valid Unicode/]
  ]
  for (const [body, message] of cases) {
    const res = await signUp(body)
    assert.equal(res.statusCode, 400, body)
    assert.match(res.body, message, body)
  }
  assert.equal(await app.usersRepository.findByUid('surr'), null)
  const ok = await signUp('{"uid":"surr","name":"Pair \\ud83d\\ude00","password":"Passw0rd-long-1","hashmap":{"emoji":"\\ud83d\\ude00"}}')
  assert.equal(ok.statusCode, 201, 'a valid surrogate pair (an emoji) is fine')

  const user = (await app.usersRepository.findByUid('surr'))!
  const cookie = await signIn(app, user.id)
  for (const body of ['{"hashmap":{"k":"\\ud800"}}', '{"name":"\\ud800x"}']) {
    const res = await app.inject({ method: 'PUT', url: '/api/users', headers: { ...json(), cookie }, payload: body })
    assert.equal(res.statusCode, 400, body)
  }
  const after = (await app.usersRepository.findByUid('surr'))!
  assert.deepEqual([after.name, after.hashmap], [user.name, user.hashmap])
})
