import assert from 'node:assert/strict'
import { test } from 'node:test'
import { returnTo, safeNextPath } from '../../src/lib/next-path.ts'

test('same-origin paths are kept (normalised)', () => {
  assert.equal(safeNextPath('/users'), '/users')
  assert.equal(safeNextPath('/users?x=1#top'), '/users?x=1#top')
  assert.equal(safeNextPath('/a/../profile'), '/profile')
  assert.equal(safeNextPath('/ok"><script>'), '/ok%22%3E%3Cscript%3E')
})

test('anything that could leave the site is refused', () => {
  for (const next of ['https://evil.example', '//evil.example', '/\\evil.example', '\\\\evil.example', 'https:evil.example',
    'javascript:alert(1)', 'evil.example', '/%0d%0aSet-Cookie: x=y'.replace('%0d%0a', '\r\n'), '', undefined, 42, '/\t/evil.example']) {
    assert.equal(safeNextPath(next), null, String(next))
  }
})

test('the page to return to keeps its query but never credentials', () => {
  assert.equal(decodeURIComponent(returnTo('/table?sort=name')), '/table?sort=name')
  assert.equal(decodeURIComponent(returnTo('/profile?token=abc.def.ghi')), '/profile')
  assert.equal(decodeURIComponent(returnTo('/users?access_token=x&page=2&JWT=y')), '/users?page=2')
  assert.doesNotMatch(returnTo('/a?b=c'), /[/?=&]/)
})

test('the page to return to drops a JWT under any name, escaped or not', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLXRva2Vu'
  assert.equal(decodeURIComponent(returnTo(`/profile?x=${jwt}&page=2`)), '/profile?page=2')
  assert.equal(decodeURIComponent(returnTo(`/profile?x=%65${jwt.slice(1)}`)), '/profile')
  assert.equal(decodeURIComponent(returnTo('/profile?x=eyJ.only-two')), '/profile?x=eyJ.only-two')
})
