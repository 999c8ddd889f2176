#!/usr/bin/env node
/**
 * `npm run bench:compare`: is the working tree faster or slower than a git revision, on one
 * page? Both builds run at the same time, pinned to the same CPU, each loaded by its own
 * autocannon from the other CPU; each round compares their requests per CPU-second. Both see the
 * same machine at the same moment, so the ratio holds still on a machine whose speed drifts by
 * ±20 % from one minute to the next (docs/decisions/0026-callback-hooks-and-paired-measurement.md).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseFlags, usageError } from './lib/args.mjs'
import { serverNodeFlags } from '../scripts/lib/system.mjs'
import { detectPinning, killAll, pinSelf, request, startServer } from './lib/proc.mjs'
import { pairedRounds } from './lib/paired.mjs'

const root = join(import.meta.dirname, '..')

const HELP = `npm run bench:compare [-- options]

  Runs the working tree's build and a git revision's build side by side and prints, per round
  and as a median, requests per CPU-second of the working tree ÷ the revision's (> 1: faster).

  --base=REF          the revision to compare with (default HEAD: the last commit)
  --path=PATH         the page to load (default /)
  --signed-in         send the session cookie of the demo user toby (for protected pages)
  --rounds=N          measured rounds (default 6)
  --duration=S        seconds per round (default 6)
  --warmup=S          warm-up seconds, both servers at once, not counted (default 4)
  --connections=N     connections per server (default 25)
  --skip-build        use the working tree's existing dist/
  --keep              keep the temporary folder (the revision's checkout, database, logs)
`

const flags = parseFlags({
  help: { type: 'boolean' },
  base: { type: 'string', default: 'HEAD' },
  path: { type: 'string', default: '/' },
  'signed-in': { type: 'boolean' },
  rounds: { type: 'string', default: '6' },
  duration: { type: 'string', default: '6' },
  warmup: { type: 'string', default: '4' },
  connections: { type: 'string', default: '25' },
  'skip-build': { type: 'boolean' },
  keep: { type: 'boolean' }
}, 'npm run bench:compare')
if (flags.help) {
  process.stdout.write(HELP)
  process.exit(0)
}
function count (name) {
  const value = Number(flags[name])
  if (!Number.isInteger(value) || value < 1) usageError(`--${name}: a whole number above 0, not ${flags[name]}`, 'npm run bench:compare')
  return value
}
const opts = { rounds: count('rounds'), durationS: count('duration'), warmupS: count('warmup'), connections: count('connections') }
if (!flags.path.startsWith('/')) usageError(`--path: a path starting with /, not ${flags.path}`, 'npm run bench:compare')

const log = (...args) => console.log(...args)
const step = text => log(`· ${text}`)
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()

const pin = detectPinning()
if (!pin.enabled) throw new Error(`bench:compare needs two CPUs to pin to: ${pin.reason}`)
const baseCommit = git('rev-parse', '--verify', `${flags.base}^{commit}`)
const tmp = mkdtempSync(join(tmpdir(), 'fastify-portfolio-compare-'))
const baseDir = join(tmp, 'base')
function cleanup () {
  killAll()
  if (existsSync(baseDir)) spawnSync('git', ['worktree', 'remove', '--force', baseDir], { cwd: root, stdio: 'ignore' })
  if (flags.keep) log(`kept ${tmp}`)
  else rmSync(tmp, { recursive: true, force: true })
}
process.once('SIGINT', () => { cleanup(); process.exit(130) })
process.once('SIGTERM', () => { cleanup(); process.exit(143) })

function run (cmd, args, cwd) {
  const result = spawnSync(cmd, args, { cwd, stdio: 'inherit' })
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}`)
}

async function main () {
  const dirty = git('status', '--porcelain').split('\n').filter(Boolean).length
  log(`working tree (${git('rev-parse', '--short', 'HEAD')}${dirty > 0 ? ` + ${dirty} changed files` : ''}) against ${flags.base} (${baseCommit.slice(0, 7)}): GET ${flags.path}${flags['signed-in'] ? ' signed in' : ''}`)
  log(`both servers on CPU ${pin.server}, each loaded by its own autocannon on CPU ${pin.loadgen}, ${opts.connections} connections each`)

  if (flags['skip-build']) step('working tree: build skipped (--skip-build)')
  else {
    step('working tree: npm run build')
    run('npm', ['run', 'build', '--silent'], root)
  }
  // The revision in its own checkout, with this tree's node_modules (the same packages: a
  // revision with other dependencies is compared on these ones).
  step(`${flags.base}: checkout, Prisma client, build`)
  run('git', ['worktree', 'add', '--detach', '--quiet', baseDir, baseCommit], root)
  symlinkSync(join(root, 'node_modules'), join(baseDir, 'node_modules'))
  run('node', ['scripts/prisma-generate.mjs'], baseDir)
  run('npm', ['run', 'build', '--silent'], baseDir)

  // One fresh database for both, made and seeded by the working tree's build (as npm run bench does).
  const dbFile = join(tmp, 'volumes', 'sqlite.db')
  const baseEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    INSTANCE_DIR: tmp,
    DATABASE_URL: `file:${dbFile}`,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    LOG_LEVEL: 'warn'
  }
  step('fresh database: migrate and seed the demo users')
  const seeder = await startServer({ name: 'seed', script: 'dist/server.js', env: { ...baseEnv, NODE_ENV: 'development', MIGRATE_ON_START: 'true', SEED_DEMO_USERS: 'true' }, cwd: root, logDir: tmp, readyPath: '/api/health' })
  await seeder.stop()

  const appEnv = { ...baseEnv, NODE_ENV: 'production', MIGRATE_ON_START: 'false', SEED_DEMO_USERS: 'false' }
  const servers = []
  for (const [name, cwd] of [['base', baseDir], ['tree', root]]) {
    servers.push(await startServer({ name, script: 'dist/server.js', env: appEnv, cwd, logDir: tmp, cpu: pin.server, nodeFlags: serverNodeFlags(cwd), readyPath: '/api/health' }))
  }
  // The same secret signs for both: one session cookie, and the cookies its first page sets
  // (the CSRF secret), as a browser sends them back.
  const headers = flags['signed-in'] ? { cookie: await signedInCookie(servers[1]) } : {}
  for (const server of servers) {
    const res = await request(server.base + flags.path, { headers })
    if (res.status !== 200) throw new Error(`${server.name}: GET ${flags.path} answered ${res.status}, expected 200${flags['signed-in'] ? '' : ' (a protected page needs --signed-in)'}`)
  }

  pinSelf(pin.loadgen)
  step(`warm-up ${opts.warmupS} s`)
  log('round   base req/CPU-s   tree req/CPU-s   tree/base')
  const paired = await pairedRounds({
    servers: servers.map(server => ({ name: server.name, pid: server.pid, url: server.base + flags.path, headers })),
    loadgenScript: join(import.meta.dirname, 'lib', 'loadgen.mjs'),
    cpu: pin.loadgen,
    cwd: root,
    connections: opts.connections,
    warmupS: opts.warmupS,
    durationS: opts.durationS,
    rounds: opts.rounds,
    onRound: ({ round, perCpu, ratio }) => log(`${String(round).padStart(5)}   ${Math.round(perCpu[0]).toString().padStart(14)}   ${Math.round(perCpu[1]).toString().padStart(14)}   ${ratio.toFixed(3).padStart(9)}`)
  })
  for (const server of servers) await server.stop()
  log(`\nGET ${flags.path}: working tree / ${flags.base} = ${paired.median.toFixed(3)} (median of ${opts.rounds} rounds; ${paired.min.toFixed(3)} to ${paired.max.toFixed(3)}); > 1 is faster`)
}

/** Signs in as the demo user toby; his cookie plus the cookies his first page sets. */
async function signedInCookie (server) {
  const res = await request(`${server.base}/api/authenticate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uid: 'toby', password: 'toby-demo-pass' }) })
  if (res.status !== 200) throw new Error(`sign-in as toby answered ${res.status}`)
  const session = [res.headers['set-cookie'] ?? []].flat().map(c => c.split(';')[0]).find(pair => /token=/.test(pair))
  if (session === undefined) throw new Error('sign-in as toby set no session cookie')
  const page = await request(server.base + flags.path, { headers: { cookie: session } })
  const set = [page.headers['set-cookie'] ?? []].flat().map(c => c.split(';')[0]).filter(pair => !/=$/.test(pair))
  return [session, ...set].join('; ')
}

try {
  await main()
} finally {
  cleanup()
}
