/**
 * SECURITY.md section A: token integrity and claim validation (S01–S13).
 *
 * Every forged token is compared with a control: the same claims, backed by a live Session row
 * and signed with the app's key, do sign in. So a refusal is caused by the one thing changed.
 * The app reads the token from its cookie only and answers a bad one the "silent" way: the
 * cookie is expired and the visitor is treated as signed out (page: 303 to /login, API: 401).
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { build, csrfFor, signIn, submitForm } from '../helper.ts'
import { createAdmin, createUser, snapshot } from '../factories.ts'
import { b64url, forge, nowSeconds } from './forge.ts'
import {
  HS256, assertAlive, assertAuthFailApi, assertAuthFailPage, assertForbidden, assertNever, assertTokenRefused,
  authCookie, isExpiring, payloadOf, setCookieLinesFor, setup, signAsApp, tokenOf, validClaims, whoIs, without
} from './support.ts'

const srcDir = fileURLToPath(new URL('../../src', import.meta.url))

test('S01 an unsigned (alg: none) token never signs anyone in', async (t) => {
  const { app, user, admin } = await setup(t)
  const claims = { ...await validClaims(app, admin.id), role: 'Admin' }

  await t.test('the same claims signed HS256 with the app key do sign in (control)', async () => {
    assert.equal(await whoIs(app, authCookie(app, signAsApp(app, claims))), admin.id)
  })

  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    const unsigned = forge({ alg, typ: 'JWT' }, claims, null)
    const variants: Record<string, string> = {
      'an empty signature (xxx.yyy.)': unsigned,
      'a non-empty junk signature': unsigned + 'c2lnbmF0dXJl',
      'no trailing dot (two segments)': unsigned.slice(0, -1)
    }
    for (const [name, token] of Object.entries(variants)) {
      await t.test(`alg "${alg}" with ${name} is refused by pages, Admin pages and the API`, async () => {
        await assertTokenRefused(app, token, user.id)
      })
    }
  }

  await t.test('the literal SECURITY.md payload (admin sub, role Admin, no jti) is refused', async () => {
    const now = nowSeconds()
    const token = forge({ alg: 'none', typ: 'JWT' }, { sub: String(admin.id), role: 'Admin', iat: now, exp: now + 3600 }, null)
    await assertTokenRefused(app, token, user.id)
  })

  await assertAlive(app)
})

test('S02 a token whose claims were edited after signing is refused', async (t) => {
  const { app, user, admin } = await setup(t)
  const cookie = await signIn(app, user.id)
  const token = tokenOf(cookie)
  const [header, , signature] = token.split('.')
  const original = payloadOf(token)

  await t.test('the untouched token signs in as its user (control)', async () => {
    assert.equal(await whoIs(app, cookie), user.id)
  })

  const edits: Record<string, Record<string, unknown>> = {
    'role set to Admin': { ...original, role: 'Admin' },
    'sub set to the admin id': { ...original, sub: String(admin.id) },
    'sub set to the admin id and role to Admin': { ...original, sub: String(admin.id), role: 'Admin' },
    'exp pushed a year later': { ...original, exp: Number(original.exp) + 365 * 24 * 3600 }
  }
  for (const [name, payload] of Object.entries(edits)) {
    await t.test(`a token with ${name}, keeping the original signature, is refused`, async () => {
      await assertTokenRefused(app, `${header}.${b64url(payload)}.${signature}`, user.id)
    })
  }

  await t.test('no source file decodes a token without verifying it', () => {
    const files = readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
      .filter(f => f.endsWith('.ts') && !f.startsWith('generated'))
    assert.ok(files.length > 10, 'the source tree was found')
    for (const file of files) {
      const text = readFileSync(join(srcDir, file), 'utf8')
      assert.doesNotMatch(text, /jwtDecode|\bjwt\.decode\b|\bdecode\(/, `${file} decodes a token without verifying it`)
    }
  })
})

test('S03 tokens signed with any key but the app secret are refused', async (t) => {
  const { app, user, admin } = await setup(t)
  const claims = await validClaims(app, admin.id)

  await t.test('the same claims signed with the app key sign in (control)', async () => {
    assert.equal(await whoIs(app, authCookie(app, signAsApp(app, claims))), admin.id)
  })

  const keys: Record<string, string | Buffer> = {
    '"secret"': 'secret',
    '"changeme"': 'changeme',
    '"your-256-bit-secret"': 'your-256-bit-secret',
    'the empty string (CVE-2026-44351 pattern)': '',
    'a random 32-byte key': randomBytes(32),
    "another environment's strong secret (staging)": randomBytes(48).toString('base64url'),
    'the app secret with a trailing newline': `${app.config.jwt.secret}\n`
  }
  for (const [name, key] of Object.entries(keys)) {
    await t.test(`an HS256 token signed with ${name} is refused`, async () => {
      await assertTokenRefused(app, forge(HS256, claims, key), user.id)
    })
  }
})

test('S04 asymmetric and key-carrying tokens are refused by the HS256-only app', async (t) => {
  const { app, user, admin } = await setup(t)
  const claims = await validClaims(app, admin.id)
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ed = generateKeyPairSync('ed25519')

  await t.test('the app issues HS256 tokens and verifies exactly HS256', async () => {
    const issued = tokenOf(await signIn(app, user.id))
    const header = JSON.parse(Buffer.from(issued.split('.')[0], 'base64url').toString())
    // `kid` names the signing key among JWT_SECRET's (rotation); the server chooses it, never the client.
    assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ'])
    assert.equal(header.alg, 'HS256')
    assert.equal(header.typ, 'JWT')
    assert.match(header.kid, /^[\w-]{8}$/)
    // One algorithm family only: the RSA/EC-public-key-as-HMAC-secret rows of S04 do not apply.
    assert.deepEqual(app.jwt.options.verify?.algorithms, ['HS256'])
  })

  const families = [['RS256', rsa], ['PS256', rsa], ['ES256', ec], ['EdDSA', ed]] as const
  for (const [alg, pair] of families) {
    const extraHeaders: Record<string, Record<string, unknown>> = {
      'no key header': {},
      'a jwk header carrying the attacker public key': { jwk: pair.publicKey.export({ format: 'jwk' }) },
      'a jku header pointing at the attacker': { jku: 'https://evil.example/.well-known/jwks.json' },
      'an x5u header pointing at the attacker': { x5u: 'https://evil.example/cert.pem' },
      'an x5c header carrying the attacker key': { x5c: [pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')] }
    }
    for (const [name, extra] of Object.entries(extraHeaders)) {
      await t.test(`an ${alg} token with ${name} is refused (never a 500)`, async () => {
        await assertTokenRefused(app, forge({ alg, typ: 'JWT', ...extra }, claims, pair.privateKey), user.id)
      })
    }
  }

  await t.test('an HS256 token whose jwk header carries the attacker HMAC key is refused', async () => {
    const key = randomBytes(32)
    const token = forge({ ...HS256, jwk: { kty: 'oct', k: key.toString('base64url') } }, claims, key)
    await assertTokenRefused(app, token, user.id)
  })
  await assertAlive(app)
})

test('S05 expired tokens are refused', async (t) => {
  const { app, user, admin } = await setup(t)
  const claims = await validClaims(app, admin.id)
  const now = nowSeconds()

  await t.test('a token that has not expired signs in (control)', async () => {
    assert.equal(await whoIs(app, authCookie(app, signAsApp(app, claims))), admin.id)
  })
  // The Session rows stay live in all of these: only the token's own dates make it fail.
  await t.test('a token that expired one second ago is refused (clock tolerance is under a second)', async () => {
    await assertTokenRefused(app, signAsApp(app, { ...claims, iat: now - 60, exp: now - 1 }), user.id)
  })
  await t.test('a token that expired an hour ago is refused', async () => {
    await assertTokenRefused(app, signAsApp(app, { ...claims, iat: now - 7200, exp: now - 3600 }), user.id)
  })
  await t.test('a token with exp but no iat is refused', async () => {
    await assertTokenRefused(app, signAsApp(app, without(claims, 'iat')), user.id)
    // Again: the app caches verified tokens (fast-jwt's cache), and a refusal must not become a pass.
    await assertTokenRefused(app, signAsApp(app, without(claims, 'iat')), user.id)
  })
  await t.test('a token accepted (and cached) while valid is refused once it has expired', async () => {
    const issued = nowSeconds()
    const token = signAsApp(app, { ...claims, iat: issued, exp: issued + 2 })
    const cookie = authCookie(app, token)
    assert.equal(await whoIs(app, cookie), admin.id)
    assert.equal(await whoIs(app, cookie), admin.id, 'the second request is answered from the cache')
    await new Promise(resolve => setTimeout(resolve, (issued + 2) * 1000 - Date.now() + 50))
    await assertTokenRefused(app, token, user.id)
  })
})

test('S06 not-yet-valid tokens and badly typed dates are refused without a 500', async (t) => {
  const { app, user, admin } = await setup(t)
  const claims = await validClaims(app, admin.id)
  const now = nowSeconds()
  const variants: Record<string, Record<string, unknown>> = {
    'nbf an hour in the future (FAST_JWT_INACTIVE)': { ...claims, nbf: now + 3600 },
    'iat a day in the future': { ...claims, iat: now + 86400, exp: now + 86400 + app.config.jwt.ttlSeconds },
    'nbf as the string "abc" (FAST_JWT_INVALID_CLAIM_TYPE)': { ...claims, nbf: 'abc' },
    'exp as the string "abc"': { ...claims, exp: 'abc' },
    'iat as the string "abc"': { ...claims, iat: 'abc' }
  }
  for (const [name, payload] of Object.entries(variants)) {
    await t.test(`a token with ${name} is refused`, async () => {
      await assertTokenRefused(app, signAsApp(app, payload), user.id)
    })
  }
  await assertAlive(app)
})

test('S07 correctly signed tokens with missing or hostile claims are refused', async (t) => {
  const { app, user, admin } = await setup(t)
  const claims = await validClaims(app, admin.id)

  await t.test('the complete claim set signs in (control)', async () => {
    assert.equal(await whoIs(app, authCookie(app, signAsApp(app, claims))), admin.id)
  })

  const revoked = await validClaims(app, admin.id)
  await app.sessionsRepository.revoke(String(revoked.jti))

  const variants: Record<string, unknown> = {
    'no exp': without(claims, 'exp'),
    'no sub': without(claims, 'sub'),
    'no jti': without(claims, 'jti'),
    'no iss': without(claims, 'iss'),
    'no aud': without(claims, 'aud'),
    'the sub of a user that does not exist': { ...claims, sub: '999999' },
    "another user's sub on this session (sub and jti must match)": { ...claims, sub: String(user.id) },
    'sub as a number instead of a string': { ...claims, sub: admin.id },
    'a jti that names no session': { ...claims, jti: randomBytes(16).toString('base64url') },
    'a jti longer than any session id': { ...claims, jti: 'x'.repeat(65) },
    'the jti of a revoked session': revoked,
    'a wrong iss': { ...claims, iss: 'https://evil.example' },
    'iss as an array holding the valid issuer': { ...claims, iss: ['https://evil.example', app.config.jwt.issuer] },
    "another app's aud": { ...claims, aud: 'another-app' },
    'a JSON array as the payload': [{ sub: String(admin.id) }],
    'a JSON string as the payload': 'a string'
  }
  for (const [name, payload] of Object.entries(variants)) {
    await t.test(`a token with ${name} is refused`, async () => {
      await assertTokenRefused(app, signAsApp(app, typeof payload === 'string' ? JSON.stringify(payload) : payload), user.id)
    })
  }
  // The app has a single token kind (session tokens), so the `typ: "refresh"` row does not apply.
  await assertAlive(app)
})

test('S08 malformed token strings are refused without a 500', async (t) => {
  const { app, user, admin } = await setup(t)
  const claims = await validClaims(app, admin.id)
  const valid = signAsApp(app, claims)
  const [h, p, s] = valid.split('.')

  await t.test('the well-formed token signs in (control)', async () => {
    assert.equal(await whoIs(app, authCookie(app, valid)), admin.id)
  })

  const standardBase64 = (segment: string) => Buffer.from(segment, 'base64url').toString('base64')
  const variants: Record<string, string> = {
    abc: 'abc',
    'a.b': 'a.b',
    'a.b.c.d': 'a.b.c.d',
    'the valid token plus a fourth segment': `${valid}.${s}`,
    'a standard-base64 signature with = padding': `${h}.${p}.${standardBase64(s)}`,
    'a payload segment with = padding appended': `${h}.${p}==.${s}`,
    'a header segment with + and / instead of - and _': `${h.replace(/-/g, '+').replace(/_/g, '/')}A+/.${p}.${s}`,
    'a space inside the payload segment': `${h}.${p.slice(0, 10)} ${p.slice(10)}.${s}`,
    'a tab inside the signature segment': `${h}.${p}.${s.slice(0, 10)}\t${s.slice(10)}`,
    'a header that decodes to non-JSON': forge('not json {', claims, app.config.jwt.secret),
    'a header that decodes to JSON null': forge('null', claims, app.config.jwt.secret),
    'a payload that decodes to JSON null': forge(HS256, 'null', app.config.jwt.secret),
    'a payload that decodes to non-JSON': forge(HS256, '{"sub":', app.config.jwt.secret),
    'a percent-encoded junk value': encodeURIComponent('{"alg":"none"}.{"sub":"1"}.'),
    'a broken percent-encoding': '%E0%A4%A.%ZZ.x',
    'a double-quoted junk value': '"abc.def.ghi"',
    'a double-quoted alg none token': `"${forge({ alg: 'none' }, claims, null)}"`,
    'a 4 KiB junk value': 'x'.repeat(4000)
  }
  for (const [name, token] of Object.entries(variants)) {
    await t.test(`the cookie value ${name} is refused`, async () => {
      await assertTokenRefused(app, token, user.id)
    })
  }
  await t.test('an empty cookie value (token=) is treated as signed out', async () => {
    await assertTokenRefused(app, '', user.id)
  })
  await assertAlive(app)
})

test("S09 a deleted user's token stops working at once", async (t) => {
  const app = await build(t)
  const { user: admin } = await createAdmin(app)
  const adminCookie = await signIn(app, admin.id)

  async function assertReplayRefused (cookie: string, userId: number) {
    await assertTokenRefused(app, tokenOf(cookie), admin.id)
    const put = await app.inject({ method: 'PUT', url: `/api/users/${userId}`, headers: { cookie }, payload: { name: 'Back from the dead' } })
    assertAuthFailApi(app, put, { token: tokenOf(cookie) })
    await assertAlive(app)
  }

  await t.test('after an Admin deletes the user on the delete page, the user token is refused everywhere', async () => {
    const { user } = await createUser(app)
    const cookie = await signIn(app, user.id)
    assert.equal(await whoIs(app, cookie), user.id)
    const res = await submitForm(app, `/users/${user.id}/delete`, {}, { cookie: adminCookie })
    assert.equal(res.statusCode, 303)
    assert.equal(await app.prisma.user.count({ where: { id: user.id } }), 0)
    await assertReplayRefused(cookie, user.id)
  })

  await t.test('after an Admin deletes the user through DELETE /api/users/:id, the user token is refused everywhere', async () => {
    const { user } = await createUser(app)
    const cookie = await signIn(app, user.id)
    const res = await app.inject({ method: 'DELETE', url: `/api/users/${user.id}`, headers: { cookie: adminCookie } })
    assert.equal(res.statusCode, 200)
    assert.equal(await app.prisma.user.count({ where: { id: user.id } }), 0)
    await assertReplayRefused(cookie, user.id)
  })
  // The app has no "disabled" account state (only deletion), so that variant does not apply.
})

test('S10 a token is refused after its session signed out', async (t) => {
  const { app, user } = await setup(t)

  await t.test('after POST /logout (with its CSRF token) the old cookie is refused', async () => {
    const cookie = await signIn(app, user.id)
    const { jti } = payloadOf(tokenOf(cookie))
    const form = await csrfFor(app, cookie, '/profile')
    const res = await app.inject({
      method: 'POST',
      url: '/logout',
      headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${encodeURIComponent(form.token)}`
    })
    assert.equal(res.statusCode, 303)
    // The denylist is the Session row, keyed by the jti (not by a hash of the token string).
    const row = await app.prisma.session.findUnique({ where: { id: String(jti) } })
    assert.notEqual(row?.revokedAt ?? null, null, 'the session row is revoked')
    await assertTokenRefused(app, tokenOf(cookie), user.id)
  })

  await t.test('after POST /api/logout the old cookie is refused', async () => {
    const cookie = await signIn(app, user.id)
    const res = await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie } })
    assert.equal(res.statusCode, 200)
    assert.ok(isExpiring(setCookieLinesFor(res, app.config.cookie.name)[0] ?? ''), 'the cookie is expired')
    await assertTokenRefused(app, tokenOf(cookie), user.id)
  })

  await t.test('a different token string for the signed-out jti is refused too (revocation is by jti)', async () => {
    const cookie = await signIn(app, user.id)
    const original = payloadOf(tokenOf(cookie))
    await app.inject({ method: 'POST', url: '/api/logout', headers: { cookie } })
    // Re-signed with the app key and a later iat: a new string, the same jti.
    const reissued = signAsApp(app, { ...original, iat: Number(original.iat) + 1 })
    assert.notEqual(reissued, tokenOf(cookie))
    await assertTokenRefused(app, reissued, user.id)
  })
})

test('S11 a password or role change takes effect on tokens already issued', async (t) => {
  const app = await build(t)

  await t.test('changing the password on the profile page signs out the other sessions', async () => {
    const { user, password } = await createUser(app)
    const a = await signIn(app, user.id)
    const b = await signIn(app, user.id)
    const res = await submitForm(app, '/profile/password', { currentPassword: password, newPassword: 'a-brand-new-password-1' }, { cookie: a })
    assert.equal(res.statusCode, 303)
    assert.equal(res.headers.location, '/profile')
    await assertTokenRefused(app, tokenOf(b), user.id)
  })

  await t.test('the session that changed its password receives a freshly issued token and keeps working', async () => {
    const { user, password } = await createUser(app)
    const a = await signIn(app, user.id)
    const before = payloadOf(tokenOf(a))
    const res = await submitForm(app, '/profile/password', { currentPassword: password, newPassword: 'a-brand-new-password-2' }, { cookie: a })
    assert.equal(res.statusCode, 303)
    const lines = setCookieLinesFor(res, app.config.cookie.name)
    assert.equal(lines.length, 1, 'a new token cookie is issued with the password change')
    assert.ok(!isExpiring(lines[0]))
    const fresh = lines[0].slice(lines[0].indexOf('=') + 1).split(';')[0]
    const after = payloadOf(fresh)
    assert.notEqual(after.jti, before.jti, 'new jti')
    assert.ok(Number(after.iat) >= Number(before.iat), 'new iat')
    assert.equal(await whoIs(app, authCookie(app, fresh)), user.id)
  })

  await t.test('changing the password through PUT /api/users/:id signs out the other sessions and renews the caller', async () => {
    const { user, password } = await createUser(app)
    const a = await signIn(app, user.id)
    const b = await signIn(app, user.id)
    const res = await app.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: { cookie: a }, payload: { password: 'a-brand-new-password-3', currentPassword: password } })
    assert.equal(res.statusCode, 200)
    assert.ok(!JSON.stringify(res.json()).includes('passwordHash'))
    await assertTokenRefused(app, tokenOf(b), user.id)
    const lines = setCookieLinesFor(res, app.config.cookie.name)
    assert.equal(lines.length, 1, 'a new token cookie is issued with the password change')
    const fresh = lines[0].slice(lines[0].indexOf('=') + 1).split(';')[0]
    assert.notEqual(payloadOf(fresh).jti, payloadOf(tokenOf(a)).jti)
    assert.equal(await whoIs(app, authCookie(app, fresh)), user.id)
  })

  await t.test('a password change without the right current password is refused and stores nothing', async () => {
    const { user, password } = await createUser(app)
    const cookie = await signIn(app, user.id)
    const other = await signIn(app, user.id)
    const before = await snapshot(app)
    // Form without currentPassword: the body schema requires it (400).
    const missing = await submitForm(app, '/profile/password', { newPassword: 'another-password-1' }, { cookie })
    assert.equal(missing.statusCode, 400)
    // Form with a wrong one: the app re-renders the form with the error (422, its documented
    // choice for form errors; SECURITY.md says 400/403 — the property, a refusal, is the same).
    const wrong = await submitForm(app, '/profile/password', { currentPassword: 'not-my-password', newPassword: 'another-password-2' }, { cookie })
    assert.equal(wrong.statusCode, 422)
    assert.match(wrong.body, /That is not your current password\./)
    // API without currentPassword, or with a wrong one: 400 naming the field.
    const apiMissing = await app.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: { cookie }, payload: { password: 'another-password-3' } })
    assert.equal(apiMissing.statusCode, 400)
    const apiWrong = await app.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: { cookie }, payload: { password: 'another-password-4', currentPassword: 'not-my-password' } })
    assert.equal(apiWrong.statusCode, 400)
    assert.equal(apiWrong.json().message, 'currentPassword is not your current password.')
    for (const res of [missing, wrong, apiMissing, apiWrong]) assertNever(app, res)
    assert.deepEqual(await snapshot(app), before)
    assert.equal(await whoIs(app, other), user.id, 'other sessions are untouched')
    assert.ok(password.length > 0)
  })

  // Stricter than SECURITY.md's "FORBID with the same token": a role change also ends the
  // demoted user's sessions (issue 3), so the old token signs nobody in; signed in again, the
  // role read from the database forbids the Admin actions.
  await t.test('an Admin demoted to User loses Admin rights immediately: the old token is dead, a new one is forbidden', async () => {
    const { user: x } = await createAdmin(app)
    const { user: y } = await createAdmin(app)
    const { user: victim } = await createUser(app)
    const xCookie = await signIn(app, x.id)
    const yCookie = await signIn(app, y.id)
    const ok = await app.inject({ method: 'GET', url: `/users/${victim.id}/delete`, headers: { cookie: xCookie } })
    assert.equal(ok.statusCode, 200, 'X is an Admin before (control)')

    const demote = await submitForm(app, `/users/${x.id}/role`, { role: 'User' }, { cookie: yCookie })
    assert.equal(demote.statusCode, 303)
    assert.equal((await app.prisma.user.findUniqueOrThrow({ where: { id: x.id } })).role, 'User')

    assertAuthFailPage(app, await app.inject({ method: 'GET', url: `/users/${victim.id}/delete`, headers: { cookie: xCookie } }), { presented: true })
    assertAuthFailApi(app, await app.inject({ method: 'DELETE', url: `/api/users/${victim.id}`, headers: { cookie: xCookie } }))
    const xAgain = await signIn(app, x.id)
    const before = await snapshot(app)
    assertForbidden(await app.inject({ method: 'GET', url: `/users/${victim.id}/delete`, headers: { cookie: xAgain } }))
    assertForbidden(await app.inject({ method: 'DELETE', url: `/api/users/${victim.id}`, headers: { cookie: xAgain } }))
    assertForbidden(await app.inject({ method: 'PUT', url: `/api/users/${victim.id}`, headers: { cookie: xAgain }, payload: { role: 'Admin' } }))
    assertForbidden(await submitForm(app, `/users/${victim.id}/delete`, {}, { cookie: xAgain }))
    assertForbidden(await submitForm(app, `/users/${x.id}/role`, { role: 'Admin' }, { cookie: xAgain }))
    assert.deepEqual(await snapshot(app), before)
  })
})

test('S12 every sign-in issues a fresh token, whatever cookie was there before', async (t) => {
  const { app, user: victim, password, admin: attacker } = await setup(t)
  const name = app.config.cookie.name

  function newToken (res: Awaited<ReturnType<typeof submitForm>>): string {
    const lines = setCookieLinesFor(res, name)
    assert.equal(lines.length, 1, `exactly one ${name} Set-Cookie, got ${JSON.stringify(lines)}`)
    assert.ok(!isExpiring(lines[0]), 'the token cookie is set, not cleared')
    return lines[0].slice(lines[0].indexOf('=') + 1).split(';')[0]
  }

  await t.test('an attacker-chosen random cookie value is replaced at sign-in', async () => {
    const preset = `${name}=attacker-chosen-value`
    const res = await submitForm(app, '/login', { uid: victim.uid, password }, { cookie: preset, page: '/login' })
    assert.equal(res.statusCode, 303)
    const token = newToken(res)
    assert.notEqual(token, 'attacker-chosen-value')
    assert.equal(await whoIs(app, authCookie(app, token)), victim.id)
  })

  await t.test("an attacker's valid token in the victim's browser is replaced, not reused or extended", async () => {
    const attackerCookie = await signIn(app, attacker.id)
    const attackerJti = String(payloadOf(tokenOf(attackerCookie)).jti)
    const rowBefore = await app.prisma.session.findUniqueOrThrow({ where: { id: attackerJti } })
    // Signed in as the attacker, the only forms carrying a CSRF token are on pages like /profile.
    const res = await submitForm(app, '/login', { uid: victim.uid, password }, { cookie: attackerCookie, page: '/profile' })
    assert.equal(res.statusCode, 303)
    const token = newToken(res)
    assert.notEqual(token, tokenOf(attackerCookie))
    assert.notEqual(payloadOf(token).jti, attackerJti)
    assert.equal(payloadOf(token).sub, String(victim.id))
    assert.equal(await whoIs(app, authCookie(app, token)), victim.id)
    const rowAfter = await app.prisma.session.findUniqueOrThrow({ where: { id: attackerJti } })
    assert.equal(rowAfter.expiresAt.getTime(), rowBefore.expiresAt.getTime(), "the attacker's session is not extended")
    assert.equal(rowAfter.userId, attacker.id, "the attacker's session is not re-bound to the victim")
  })

  await t.test('POST /api/authenticate also issues a fresh token over a pre-set one', async () => {
    const attackerCookie = await signIn(app, attacker.id)
    const res = await app.inject({ method: 'POST', url: '/api/authenticate', headers: { cookie: attackerCookie }, payload: { uid: victim.uid, password } })
    assert.equal(res.statusCode, 200)
    const token = newToken(res)
    assert.notEqual(token, tokenOf(attackerCookie))
    assert.equal(await whoIs(app, authCookie(app, token)), victim.id)
  })
})

test('S13 tokens are never taken from or put into URLs', async (t) => {
  const { app, user, password } = await setup(t)
  const token = tokenOf(await signIn(app, user.id))

  await t.test('a valid token in the query string does not sign in', async () => {
    const page = await app.inject({ method: 'GET', url: `/profile?token=${token}` })
    assertAuthFailPage(app, page, { presented: false })
    for (const query of ['access_token', 'token', 'jwt']) {
      const api = await app.inject({ method: 'GET', url: `/api/id?${query}=${token}` })
      assertAuthFailApi(app, api, { token })
    }
  })

  await t.test('the sign-in redirect does not copy a query-string token into its Location', async () => {
    for (const url of [`/profile?token=${token}`, `/users?access_token=${token}`]) {
      const page = await app.inject({ method: 'GET', url })
      assert.equal(page.statusCode, 303)
      assert.ok(!String(page.headers.location).includes(token), `Location carries the token: ${String(page.headers.location).slice(0, 60)}…`)
    }
  })

  await t.test('a valid token in the Authorization header does not sign in (the cookie is the only carrier)', async () => {
    const api = await app.inject({ method: 'GET', url: '/api/id', headers: { authorization: `Bearer ${token}` } })
    assertAuthFailApi(app, api, { token })
    const page = await app.inject({ method: 'GET', url: '/profile', headers: { authorization: `Bearer ${token}` } })
    assertAuthFailPage(app, page, { presented: false, token })
  })

  await t.test('signing in puts neither the token nor its jti in the Location header or any page', async () => {
    const res = await submitForm(app, '/login', { uid: user.uid, password, next: '/profile' })
    assert.equal(res.statusCode, 303)
    assert.equal(res.headers.location, '/profile')
    const line = setCookieLinesFor(res, app.config.cookie.name)[0]
    const issued = line.slice(line.indexOf('=') + 1).split(';')[0]
    const jti = String(payloadOf(issued).jti)
    const cookie = authCookie(app, issued)
    for (const url of ['/profile', '/', '/users', '/login?next=%2Fprofile']) {
      const page = await app.inject({ method: 'GET', url, headers: { cookie } })
      assert.ok(page.statusCode === 200 || page.statusCode === 303, `${url}: ${page.statusCode}`)
      for (const secret of [issued, jti]) {
        assert.ok(!page.body.includes(secret), `${url} shows the token or jti`)
        assert.ok(!String(page.headers.location ?? '').includes(secret), `${url} redirects with the token or jti`)
      }
    }
  })
})
