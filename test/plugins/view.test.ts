import assert from 'node:assert/strict'
import { test } from 'node:test'
import { EtaFileResolutionError } from 'eta'
import { statusFor } from '../../src/lib/error-handler.ts'
import { build } from '../helper.ts'

test('template paths are resolved once, and a path outside views/ is refused every time', async (t) => {
  const app = await build(t)
  const first = await app.view('pages/home', { currentUser: null, flash: null, currentPath: '/' })
  const again = await app.view('pages/home', { currentUser: null, flash: null, currentPath: '/' })
  assert.equal(again, first)
  for (let i = 0; i < 2; i++) {
    await assert.rejects(app.view('../package', {}), EtaFileResolutionError)
    await assert.rejects(app.view('/../../etc/passwd', {}), EtaFileResolutionError)
  }
  // Such an error is a missing page, not a server error.
  const err = await app.view('../package', {}).catch((e: Error) => e)
  assert.equal(statusFor(err as Error), 404)
})
