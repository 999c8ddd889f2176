import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Signer } from '@fastify/cookie'
import { rememberingSigner } from '../../src/plugins/external/cookie.ts'
import { build, csrfFor } from '../helper.ts'

const KEY = 'a-test-key-of-thirty-two-characters-at-least'

test('the remembering signer gives @fastify/cookie\'s answers, before and after remembering', () => {
  const reference = new Signer(KEY)
  const signer = rememberingSigner(KEY)
  const signed = signer.sign('secret-value')
  assert.equal(signed, reference.sign('secret-value'))

  for (let i = 0; i < 3; i++) assert.deepEqual({ ...signer.unsign(signed) }, { valid: true, renew: false, value: 'secret-value' })

  // A remembered value does not make its neighbours valid.
  const tampered = [
    signed.slice(0, -1) + (signed.at(-1) === 'A' ? 'B' : 'A'),
    'other-value' + signed.slice(signed.indexOf('.')),
    signed + 'x',
    signed.slice(0, signed.indexOf('.')),
    `${signed}.${signed}`
  ]
  for (const input of tampered) {
    assert.deepEqual(signer.unsign(input), { valid: false, renew: false, value: null }, input)
    assert.deepEqual(signer.unsign(input), reference.unsign(input), input)
  }
  // Another key's signature is not valid here.
  assert.equal(signer.unsign(new Signer(KEY + '-other').sign('secret-value')).valid, false)
})

test('the remembering signer stays right past its bound (10 000 values) and under a flood of junk', () => {
  const signer = rememberingSigner(KEY)
  const values = Array.from({ length: 10_050 }, (_, i) => `value-${i}`)
  const signed = values.map(v => signer.sign(v))
  for (const s of signed) assert.equal(signer.unsign(s).valid, true)
  // The oldest were dropped: they are checked again, with the same answer.
  for (const [i, s] of signed.entries()) assert.equal(signer.unsign(s).value, values[i])
  for (let i = 0; i < 20_000; i++) assert.equal(signer.unsign(`junk-${i}.c2lnbmF0dXJl`).valid, false)
  assert.equal(signer.unsign(signed[0]).value, values[0])
})

test('a CSRF secret cookie checked (and remembered) once is still refused when tampered with', async (t) => {
  const app = await build(t)
  const { token, cookie } = await csrfFor(app)
  const post = (cookieHeader: string) => app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: cookieHeader, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ uid: 'nobody', password: 'wrong-password', _csrf: token }).toString()
  })
  // The genuine cookie passes the CSRF check (the sign-in then fails on the password: 401).
  assert.equal((await post(cookie)).statusCode, 401)
  assert.equal((await post(cookie)).statusCode, 401)
  const [name, value] = cookie.split(';').map(c => c.trim()).find(c => /csrf=/.test(c))!.split('=')
  const dot = value.lastIndexOf('.')
  const forged = [
    `${value.slice(0, dot - 1)}${value.at(dot - 1) === 'A' ? 'B' : 'A'}${value.slice(dot)}`,
    `${value.slice(0, dot)}.${'A'.repeat(value.length - dot - 1)}`
  ]
  for (const bad of forged) assert.equal((await post(`${name}=${bad}`)).statusCode, 403, bad)
})
