import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
// @ts-expect-error plain JavaScript helper of the scripts (no types)
import { serverNodeFlags } from '../scripts/lib/system.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

test('the container runs the server with the same node flags as npm start (which the bench and cluster test read)', () => {
  const flags: string[] = serverNodeFlags(root)
  // The young generation's bound of decision 0022; no old-generation growth flag (decision 0028:
  // it cost a sixth of the home page's throughput, and the old generation stays flat without it).
  assert.ok(flags.includes('--max-semi-space-size=8'), `the start script's flags: ${flags.join(' ')}`)
  assert.ok(!flags.some(flag => flag.startsWith('--heap-growing-percent')), `the start script's flags: ${flags.join(' ')}`)
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(`${root}/Dockerfile`, 'utf8'))
  assert.ok(cmd !== null, 'the Dockerfile has an exec-form CMD')
  assert.deepEqual(JSON.parse(cmd[1]), ['node', ...flags, 'dist/server.js'])
})

test('a start script that is not `node [--flags] dist/server.js` is refused, not half read', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'start-script-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const withStart = (start: string) => writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { start } }))
  withStart('node --max-semi-space-size=8 --enable-source-maps dist/server.js')
  assert.deepEqual(serverNodeFlags(dir), ['--max-semi-space-size=8', '--enable-source-maps'])
  withStart('node dist/server.js')
  assert.deepEqual(serverNodeFlags(dir), [])
  for (const start of ['tsx src/server.ts', 'node dist/server.js --port 1', 'NODE_ENV=production node dist/server.js']) {
    withStart(start)
    assert.throws(() => serverNodeFlags(dir), /start script/, start)
  }
})
