import { execFile } from 'node:child_process'
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, test } from './fixtures.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../', import.meta.url))
// The Flask sample database next to the repository (../shared/fixtures); only a copy is imported.
const FIXTURE = resolve(ROOT, '../shared/fixtures/flask-portfolio-sample.db')
const FLASK_UIDS = ['ada', 'alan', 'kj', 'ewd', 'margaret.h', 'mallory', 'jose']

// A move from Flask, as an operator does it: `npm run import:flask` against the running app's
// database, then the Flask Admin signs in with the old password. Reruns on the same server skip
// the users already imported (and ada's hash is argon2id by then), so the spec is idempotent.
test('an Admin imported from the Flask database signs in with the Flask password and sees the imported users', async ({ page, login, baseURL }) => {
  test.setTimeout(60_000)
  // The server's database, as playwright.config.ts sets it up for this port.
  const instanceDir = join(tmpdir(), `fastify-portfolio-e2e-${new URL(baseURL!).port}`)
  const dir = mkdtempSync(join(tmpdir(), 'flask-import-e2e-'))
  try {
    const copy = join(dir, 'sqlite.db')
    copyFileSync(FIXTURE, copy)
    chmodSync(copy, 0o600)
    const { stdout } = await run('npx', ['tsx', 'scripts/import-flask.ts', copy], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'development', INSTANCE_DIR: instanceDir, DATABASE_URL: `file:${join(instanceDir, 'e2e.db')}` }
    })
    expect(stdout).toMatch(/^7 rows: (7 imported .*0 skipped|0 imported, 7 skipped) \(already present\), 0 rejected\.$/m)
    expect(stdout).toMatch(/^row 1 {2}ada +(imported as Admin|skipped: user id already present)$/m)
    expect(stdout, 'no password hash is ever printed').not.toMatch(/pbkdf2:|scrypt:|\$argon2/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  await login(page, 'ada', 'analytical1843')
  await expect(page.getByTestId('current-user')).toHaveText('Ada Lovelace (ada, Admin)')

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click()
  await expect(page.getByRole('heading', { name: 'Users', level: 1 })).toBeVisible()
  for (const uid of FLASK_UIDS) await expect(page.getByRole('cell', { name: uid, exact: true })).toBeVisible()
  // HTML in a Flask name is shown as text, never run.
  await expect(page.getByRole('cell', { name: '<b>Bob</b> & "Eve"', exact: true })).toBeVisible()
  await expect(page.getByRole('cell', { name: 'José Ñúñez', exact: true })).toBeVisible()
})
