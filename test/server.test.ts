import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { freshDatabase } from './helper.ts'

interface Run { code: number | null, signal: NodeJS.Signals | null, output: string }

/**
 * Starts src/server.ts as a real process. `whileRunning` gets the base URL once the server
 * listens; then the process is sent SIGTERM. Without it, the process is expected to exit alone.
 */
async function runServer (env: Record<string, string>, whileRunning?: (base: string) => Promise<void>): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'fp-server-'))
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, FASTIFY_AUTOLOAD_TYPESCRIPT: '1', INSTANCE_DIR: dir, DATABASE_URL: `file:${join(dir, 'db.sqlite')}`, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  let onListening: ((base: string) => void) | undefined
  const listening = new Promise<string>(resolve => { onListening = resolve })
  const collect = (chunk: Buffer) => {
    output += chunk.toString()
    const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
    if (match) onListening?.(match[1])
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const exited = new Promise<Run>(resolve => child.on('exit', (code, signal) => resolve({ code, signal, output })))
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  try {
    if (whileRunning) {
      const base = await Promise.race([listening, exited.then(r => { throw new Error(`server exited early: ${r.output}`) })])
      await whileRunning(base)
      child.kill('SIGTERM')
    }
    return await exited
  } finally {
    clearTimeout(timer)
    rmSync(dir, { recursive: true, force: true })
  }
}

test('production refuses to start without a strong JWT_SECRET, and says why', async () => {
  for (const secret of [undefined, '', 'changeme', 'your-256-bit-secret', randomBytes(8).toString('hex')]) {
    const run = await runServer({ NODE_ENV: 'production', MIGRATE_ON_START: 'true', ...(secret === undefined ? {} : { JWT_SECRET: secret }) })
    assert.equal(run.code, 1, String(secret))
    assert.match(run.output, /JWT_SECRET/)
    assert.doesNotMatch(run.output, /Server listening/)
  }
})

test('starts in production with a strong secret, serves, keeps cookies out of the logs and stops cleanly on SIGTERM', async () => {
  const secret = randomBytes(48).toString('base64url')
  const run = await runServer({ NODE_ENV: 'production', JWT_SECRET: secret, MIGRATE_ON_START: 'true' }, async (base) => {
    const res = await fetch(`${base}/api/health`, { headers: { cookie: 'token=super-secret-cookie-value', authorization: 'Bearer secret-bearer' } })
    assert.equal(res.status, 200)
  })
  assert.equal(run.code, 0)
  assert.match(run.output, /shutting down/)
  assert.doesNotMatch(run.output, /super-secret-cookie-value|secret-bearer/)
  assert.ok(!run.output.includes(secret))
})

test('refuses to start when the database has migrations this code does not know', async () => {
  const { file } = await freshDatabase()
  const dir = mkdtempSync(join(tmpdir(), 'fp-ahead-'))
  const ahead = join(dir, 'ahead.db')
  copyFileSync(file, ahead)
  const db = new Database(ahead)
  db.prepare(`INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
              VALUES ('x', 'abc', '29990101000000_from_the_future', 0, 0, 1)`).run()
  db.close()
  const run = await runServer({ DATABASE_URL: `file:${ahead}` })
  rmSync(dir, { recursive: true, force: true })
  assert.equal(run.code, 1)
  assert.match(run.output, /29990101000000_from_the_future/)
  assert.doesNotMatch(run.output, /Server listening/)
})

test('in production with MIGRATE_ON_START off, a database with pending migrations stops start-up', async () => {
  const run = await runServer({ NODE_ENV: 'production', JWT_SECRET: randomBytes(48).toString('base64url'), MIGRATE_ON_START: 'false' })
  assert.equal(run.code, 1)
  assert.match(run.output, /npm run db:migrate/)
})
