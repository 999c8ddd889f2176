// `npm run test:pg`: the whole unit/integration suite (the files `npm run test:unit` runs) on
// PostgreSQL. Creates a fresh database for the run on the server of TEST_PG_URL (default: the
// local one, trust auth), runs the suite with DATABASE_URL pointing at it (test/helper.ts then
// makes a migrated template and one copy per app from it, all named after the run's database),
// and drops the run's database and every one named after it afterwards, also on failure or ^C.
// See docs/decisions/0015-postgresql.md.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { onPostgresServer } from './lib/system.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const server = new URL(process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres')
const database = `fastify_portfolio_test_${process.pid}_${Date.now().toString(36)}`
const runUrl = new URL(server)
runUrl.pathname = `/${database}`

/** The run's database and everything the test processes named after it (`<database>_<pid>_<n>`). */
async function dropAll () {
  const client = new pg.Client({ connectionString: server.toString() })
  await client.connect()
  try {
    const { rows } = await client.query(
      "SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $1 || '_') ORDER BY datname DESC", [database])
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname.replaceAll('"', '""')}" WITH (FORCE)`)
    return rows.length
  } finally {
    await client.end()
  }
}

/** The same list as `npm run test:unit`: every test/**\/*.test.ts, sorted. */
function testFiles (dir = join(root, 'test')) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return testFiles(path)
    return entry.name.endsWith('.test.ts') ? [relative(root, path)] : []
  }).sort()
}

function run (args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit' })
    // ^C reaches the child through the terminal; wait for it, then clean up.
    process.on('SIGINT', () => {})
    process.on('SIGTERM', () => child.kill('SIGTERM'))
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
  })
}

const started = Date.now()
try {
  await onPostgresServer(server, `CREATE DATABASE "${database}"`)
} catch (err) {
  console.error(`test:pg: cannot create a database on ${server.host} (${err.message}). Is PostgreSQL running? Set TEST_PG_URL to use another server.`)
  process.exit(1)
}
console.log(`test:pg: running the suite on database ${database} at ${server.host}`)
let code = 1
try {
  const args = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...process.argv.slice(2), ...testFiles()]
  code = await run(args, { ...process.env, DATABASE_URL: runUrl.toString() })
} finally {
  const dropped = await dropAll().catch((err) => {
    console.error(`test:pg: could not drop ${database}* (${err.message}); drop them by hand`)
    return 0
  })
  console.log(`test:pg: dropped ${dropped} database(s); ${((Date.now() - started) / 1000).toFixed(1)} s; exit ${code}`)
}
process.exit(code)
