import assert from 'node:assert/strict'
import { test } from 'node:test'
import { safeNextPath } from '../../src/lib/next-path.ts'

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
