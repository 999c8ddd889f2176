import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hasJwtShape, redactParams, redactUrl } from '../../src/lib/url-secrets.ts'

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLXRva2Vu'

test('JWTs anywhere in a URL are replaced, and what follows them is kept', () => {
  assert.equal(redactUrl(`/profile?x=${JWT}&page=2`), '/profile?x=[redacted]&page=2')
  assert.equal(redactUrl(`/users/${JWT}`), '/users/[redacted]')
  assert.equal(redactUrl(`/a/x.${JWT}.tail`), '/a/x.[redacted].tail')
  assert.equal(redactUrl(`/a?one=${JWT}&two=ab${JWT}`), '/a?one=[redacted]&two=ab[redacted]')
})

test('percent-escaping some characters of a token or a key does not hide it', () => {
  assert.equal(redactUrl(`/profile?x=%65${JWT.slice(1)}`), '/profile?x=[redacted]')
  assert.equal(redactUrl(`/p?x=${JWT.replace('.', '%2E').replace('.', '%2e')}`), '/p?x=[redacted]')
  assert.equal(redactUrl('/login?pass%77ord=SECRET&user=ada'), '/login?password=[redacted]&user=ada')
  // Escapes of other characters stay as sent.
  assert.equal(redactUrl('/search?q=a%20b%2Fc'), '/search?q=a%20b%2Fc')
})

test('credential-named query values and the credentials of an absolute URL are replaced', () => {
  assert.equal(redactUrl('/api/id?access_token=abc&x=1#top'), '/api/id?access_token=[redacted]&x=1#top')
  assert.equal(redactUrl('/p?a=1&csrfToken=zz&My-Secret=1&password'), '/p?a=1&csrfToken=[redacted]&My-Secret=[redacted]&password')
  assert.equal(redactUrl('http://ada:SECRETPW9@localhost:3000/profile'), 'http://[redacted]@localhost:3000/profile')
  assert.equal(redactUrl('/users?page=2&sort=name'), '/users?page=2&sort=name')
})

test('route parameters are redacted the same way; other values pass through', () => {
  assert.deepEqual(redactParams({ id: JWT, n: 3 }), { id: '[redacted]', n: 3 })
  assert.equal(redactParams(null), null)
})

test('hasJwtShape finds a JWT, escaped or not, and nothing else', () => {
  assert.equal(hasJwtShape(JWT), true)
  assert.equal(hasJwtShape(`%65${JWT.slice(1)}`), true)
  assert.equal(hasJwtShape('eyJ.two-parts'), false)
  assert.equal(hasJwtShape('jquery.min.js'), false)
})

/** The median time of `runs` calls of redactUrl on `url`, in ms. */
function medianMs (url: string, runs = 7): number {
  const times = Array.from({ length: runs }, () => {
    const start = performance.now()
    for (let i = 0; i < 20; i++) redactUrl(url)
    return performance.now() - start
  }).sort((a, b) => a - b)
  return times[Math.floor(runs / 2)] as number
}

test('the work grows with the URL, not with its square (URLs are attacker-sized)', () => {
  // Shapes that made backtracking patterns rescan the rest of the URL from every position.
  for (const unit of ['eyJ-', 'token', 'eyJa.']) {
    const small = `/api/id?x=${unit.repeat(1000)}`
    const large = `/api/id?x=${unit.repeat(4000)}`
    redactUrl(large) // warm up
    const ratio = medianMs(large) / Math.max(medianMs(small), 0.05)
    // Linear: about 4 for 4 times the length; quadratic: about 16.
    assert.ok(ratio < 9, `${unit}: 4x the length took ${ratio.toFixed(1)}x the time`)
  }
})
