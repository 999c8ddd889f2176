#!/usr/bin/env node
/**
 * `npm run bench`: builds the app, runs it on loopback with a fresh seeded SQLite database, and
 * measures it with autocannon, one server at a time, the server and the load generator pinned
 * to different CPUs when taskset allows, against a hand-written "floor" server doing the same
 * protected-page work and bare Fastify hello-world servers. Then the other targets of issue 4:
 * a login storm beside page traffic, cold start, RSS after 200k requests, home page transfer.
 * Prints a table and the ratios, writes everything to bench/results/<date>.json.
 *
 * See bench/README.md, or `npm run bench -- --help`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join, relative } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { parseFlags, usageError } from './lib/args.mjs'
import { createSigner } from 'fast-jwt'
import { serverNodeFlags } from '../scripts/lib/system.mjs'
import { summariseCpuProfile } from './lib/cpuprofile.mjs'
import { cpuBusyPct, cpuSeconds, cpuTimes, detectPinning, killAll, pinSelf, readRss, request, startLoadGenerator, startServer, tail } from './lib/proc.mjs'
import { pairedRounds } from './lib/paired.mjs'
import { measureHomeTransfer } from './lib/transfer.mjs'

const root = join(import.meta.dirname, '..')
const benchDir = import.meta.dirname
const SECTIONS = ['throughput', 'pairs', 'storm', 'rss', 'transfer', 'cold-start']

const HELP = `npm run bench [-- options]

  (no option)            everything: throughput table and ratios, the two page ratios in pairs,
                         login storm, RSS, transfer, cold start
  --all                  the same (kept for clarity; --only overrides it)
  --only=a,b             only these sections: ${SECTIONS.join(', ')}, profile
  --profile              also run under node --cpu-prof the app and the floor on GET /profile, the
                         app and hello-template on the home page, and print the top self-time
                         functions (--only=profile for just that)
  --quick                short run (env BENCH_QUICK=1): 3 s per target, 2 s warm-up, 30k requests
                         for RSS, 1 cold start, 2 pair rounds of 3 s, --quiet-wait of 10 s
  --duration=S           seconds measured per target (default 10; env BENCH_DURATION)
  --warmup=S             warm-up seconds before each measurement (default 5; env BENCH_WARMUP)
  --runs=N               repeat the throughput section N times, report medians (default 1; env BENCH_RUNS)
  --connections=N        connections for page targets (default 50; env BENCH_CONNECTIONS)
  --auth-connections=N   connections for POST /api/authenticate (default 4)
  --storm-connections=N  concurrent sign-in loops in the login storm (default 20)
  --rss-requests=N       requests for the RSS figure, split in --rss-rounds (default 200000)
  --rss-rounds=N         rounds the RSS requests are split into (default 3)
  --cold-starts=N        cold starts timed, median reported (default 3)
  --pair-rounds=N        rounds of 6 s for each pair (default 5; 2 of 3 s with --quick)
  --skip-build           use the existing dist/ (after a build you trust)
  --no-pin               do not pin server and load generator to CPUs
  --quiet-wait=S         before each measurement, wait up to S seconds for other work on the server's
                         CPU to stop (default 30, 10 with --quick; 0: do not wait)
  --keep                 keep the temporary instance folder (database, server logs)
  --app-node-flags="..."  extra node flags for the app only (e.g. "--liftoff-only"), to try a
                         runtime setting; the floor and hello servers run without them
`

const flags = parseFlags({
  help: { type: 'boolean' },
  all: { type: 'boolean' },
  only: { type: 'string' },
  profile: { type: 'boolean' },
  quick: { type: 'boolean' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  runs: { type: 'string' },
  connections: { type: 'string' },
  'auth-connections': { type: 'string' },
  'storm-connections': { type: 'string' },
  'rss-requests': { type: 'string' },
  'rss-rounds': { type: 'string' },
  'cold-starts': { type: 'string' },
  'pair-rounds': { type: 'string' },
  'skip-build': { type: 'boolean' },
  'no-pin': { type: 'boolean' },
  'quiet-wait': { type: 'string' },
  keep: { type: 'boolean' },
  'app-node-flags': { type: 'string' }
}, 'npm run bench')
if (flags.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const env = process.env
const quick = flags.quick === true || env.BENCH_QUICK === '1'
function num (flag, envName, normal, quickValue) {
  const raw = flags[flag] ?? (envName === undefined ? undefined : env[envName])
  const value = raw === undefined ? (quick ? quickValue : normal) : Number(raw)
  if (!Number.isFinite(value) || value < 0) usageError(`--${flag}: not a number: ${raw}`, 'npm run bench')
  return value
}
const opts = {
  quick,
  durationS: num('duration', 'BENCH_DURATION', 10, 3),
  warmupS: num('warmup', 'BENCH_WARMUP', 5, 2),
  runs: Math.max(1, num('runs', 'BENCH_RUNS', 1, 1)),
  connections: num('connections', 'BENCH_CONNECTIONS', 50, 50),
  authConnections: num('auth-connections', undefined, 4, 4),
  stormConnections: num('storm-connections', undefined, 20, 20),
  rssRequests: num('rss-requests', undefined, 200_000, 30_000),
  rssRounds: Math.max(1, num('rss-rounds', undefined, 3, 3)),
  coldStarts: Math.max(1, num('cold-starts', undefined, 3, 1)),
  pairRounds: Math.max(1, num('pair-rounds', undefined, 5, 2)),
  pairDurationS: quick ? 3 : 6,
  quietWaitS: num('quiet-wait', undefined, 30, 10),
  appNodeFlags: (flags['app-node-flags'] ?? '').split(/\s+/).filter(Boolean)
}
const sections = new Set(flags.only === undefined ? SECTIONS : flags.only.split(',').map(s => s.trim()))
if (flags.profile) sections.add('profile')
for (const s of sections) if (![...SECTIONS, 'profile'].includes(s)) usageError(`--only: unknown section "${s}" (sections: ${SECTIONS.join(', ')}, profile)`, 'npm run bench')

const log = (...args) => console.log(...args)
const step = text => log(`· ${text}`)
const median = xs => {
  const s = xs.filter(x => x !== null && x !== undefined).sort((a, b) => a - b)
  if (s.length === 0) return null
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
const r2 = x => x === null || x === undefined ? null : Math.round(x * 100) / 100
const fmt = (x, d = 2) => x === null || x === undefined ? '—' : x.toFixed(d)

/* ------------------------------------------------------------------------------------------ */
/* Set-up: machine facts, pinning, build, a fresh database, the demo users.                    */
/* ------------------------------------------------------------------------------------------ */

const startedAt = new Date()
const stamp = startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
const pin = detectPinning({ disabled: flags['no-pin'] === true })
const git = (...args) => {
  try { return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return null }
}
const machine = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cpus: cpus().length,
  memoryGB: Math.round(totalmem() / 1e8) / 10,
  loadAverageAtStart: loadavg().map(x => Math.round(x * 100) / 100),
  commit: git('rev-parse', '--short', 'HEAD'),
  uncommittedFiles: (git('status', '--porcelain') ?? '').split('\n').filter(Boolean).length
}

log(`fastify-portfolio bench — ${startedAt.toISOString()}`)
log(`node ${machine.node}, ${machine.cpus} × ${machine.cpu}, load average ${machine.loadAverageAtStart.join(' ')}, commit ${machine.commit}${machine.uncommittedFiles > 0 ? ` (+${machine.uncommittedFiles} uncommitted files)` : ''}`)
log(pin.enabled
  ? `pinning: server on CPU ${pin.server}, load generator (and this runner) on CPU ${pin.loadgen} (taskset)`
  : `pinning: not possible — ${pin.reason}`)
log(`${opts.durationS} s per target after ${opts.warmupS} s warm-up, ${opts.connections} connections (${opts.authConnections} for sign-ins), ${opts.runs} run(s); sections: ${[...sections].join(', ')}`)
if (machine.loadAverageAtStart[0] > 0.5) log(`note: the machine is busy (load ${machine.loadAverageAtStart[0]}); figures will be noisier — repeat with --runs=3`)

const tmp = mkdtempSync(join(tmpdir(), 'fastify-portfolio-bench-'))
let loadgen = null
function cleanup () {
  killAll()
  if (flags.keep) log(`kept ${tmp}`)
  else rmSync(tmp, { recursive: true, force: true })
}
process.once('SIGINT', () => { cleanup(); process.exit(130) })
process.once('SIGTERM', () => { cleanup(); process.exit(143) })

const dbFile = join(tmp, 'volumes', 'sqlite.db')
const secret = randomBytes(48).toString('base64url')
const baseEnv = {
  PATH: env.PATH,
  HOME: env.HOME,
  LANG: env.LANG ?? 'C.UTF-8',
  INSTANCE_DIR: tmp,
  DATABASE_URL: `file:${dbFile}`,
  JWT_SECRET: secret,
  LOG_LEVEL: 'warn'
}
const appEnv = {
  ...baseEnv,
  NODE_ENV: 'production',
  MIGRATE_ON_START: 'true',
  SEED_DEMO_USERS: 'false',
  // The bench signs in thousands of times from one address: no throttling in the way.
  LOGIN_RATE_LIMIT: '1000000000',
  LOGIN_ACCOUNT_FREE_ATTEMPTS: '1000000000'
}

// The app runs with the node flags of `npm start` (package.json), then any --app-node-flags.
const serverFlags = serverNodeFlags(root)

function startApp (name, extra = {}) {
  const nodeFlags = [...serverFlags, ...opts.appNodeFlags, ...(extra.nodeFlags ?? [])]
  return startServer({ name, script: 'dist/server.js', env: appEnv, cwd: root, logDir: tmp, cpu: pin.server, readyPath: '/api/health', ...extra, nodeFlags })
}

const results = { date: startedAt.toISOString(), command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`, options: opts, machine, pinning: pin, sections: [...sections] }
const verdicts = []
function verdict (name, value, pass, target, note) {
  verdicts.push({ name, value, target, pass, ...(note ? { note } : {}) })
}

/** What makes a ratio's figures unfit to quote: a saturated load generator, or other work on the server's CPU. */
function caveat (rows) {
  const notes = []
  const bound = rows.filter(r => r.median.loadgenCpuPct >= 90).map(r => r.key)
  const busy = rows.filter(r => r.median.otherCpuPct >= 15).map(r => r.key)
  if (bound.length > 0) notes.push(`* load-generator bound: ${bound.join(', ')}`)
  if (busy.length > 0) notes.push(`! other work on the server's CPU: ${busy.join(', ')}; repeat before quoting`)
  return notes.join('; ')
}

async function main () {
  if (flags['skip-build']) {
    if (!existsSync(join(root, 'dist', 'server.js'))) throw new Error('--skip-build: dist/server.js does not exist')
    step('build skipped (--skip-build)')
  } else {
    step('npm run build')
    const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' })
    if (built.status !== 0) throw new Error('npm run build failed')
  }

  step(opts.appNodeFlags.length === 0
    ? `the app runs as npm start does: node ${serverFlags.join(' ')} dist/server.js`
    : `the app runs as npm start does plus --app-node-flags: node ${[...serverFlags, ...opts.appNodeFlags].join(' ')} dist/server.js`)
  results.appNodeFlags = [...serverFlags, ...opts.appNodeFlags]

  // Seeding refuses NODE_ENV=production (published demo passwords), so the same compiled server
  // runs once in development against the fresh file: it applies the migrations and creates the
  // demo users with the app's own code (toby is an Admin, which POST /api/users cannot make).
  step(`fresh database ${dbFile}: migrate and seed (one development start of dist/server.js)`)
  const seeder = await startServer({
    name: 'seed',
    script: 'dist/server.js',
    env: { ...baseEnv, NODE_ENV: 'development', MIGRATE_ON_START: 'true', SEED_DEMO_USERS: 'true' },
    cwd: root,
    logDir: tmp,
    readyPath: '/api/health'
  })
  await seeder.stop()

  if (pin.enabled) pinSelf(pin.loadgen)
  loadgen = startLoadGenerator({ script: join(benchDir, 'lib', 'loadgen.mjs'), cpu: pin.loadgen, cwd: root })

  // Sessions: toby's for the pages (his only session, so /profile lists one device); sign-in
  // load uses niko, so toby's page does not grow; hop's session is revoked, to check rejection.
  let app = await startApp('app-setup')
  const toby = await signIn(app, 'toby', 'toby-demo-pass')
  // As a browser does: the cookies the first page sets (the CSRF secret) are sent back with every
  // later request. Without them each request would make a new secret and Set-Cookie.
  toby.cookie = await withPageCookies(app, '/profile', toby.cookie)
  const hop = await signIn(app, 'hop', 'hop-demo-pass')
  const logout = await request(`${app.base}/api/logout`, { method: 'POST', headers: { cookie: hop.cookie } })
  if (logout.status >= 400) throw new Error(`POST /api/logout answered ${logout.status}`)
  const cookies = badCookies(toby, hop)
  await checkProtected(app, 'app', toby.cookie, cookies)
  await app.stop()
  app = null

  if (sections.has('throughput')) await throughput(toby, cookies)
  if (sections.has('pairs')) await pairs(toby, cookies)
  if (sections.has('storm')) await storm(toby)
  if (sections.has('rss') || sections.has('transfer')) await rssAndTransfer(toby)
  if (sections.has('cold-start')) await coldStart()
  if (sections.has('profile')) await profile(toby)

  report()
}

async function signIn (server, uid, password) {
  const res = await request(`${server.base}/api/authenticate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uid, password })
  })
  if (res.status !== 200) throw new Error(`sign-in as ${uid} answered ${res.status}: ${res.body.toString().slice(0, 200)}`)
  const setCookie = [res.headers['set-cookie'] ?? []].flat().find(c => /token=/.test(c))
  if (setCookie === undefined) throw new Error(`sign-in as ${uid} set no session cookie`)
  const pair = setCookie.split(';')[0]
  const name = pair.slice(0, pair.indexOf('='))
  return { uid, name, token: pair.slice(name.length + 1), cookie: pair }
}

/** `cookie` plus the cookies GET `path` sets with it, as one Cookie header. */
async function withPageCookies (server, path, cookie) {
  const res = await request(`${server.base}${path}`, { headers: { cookie } })
  const set = [res.headers['set-cookie'] ?? []].flat().map(c => c.split(';')[0]).filter(pair => !/=$/.test(pair))
  return [cookie, ...set].join('; ')
}

/** Cookies both servers must refuse: tampered signature, another key, a revoked session. */
function badCookies (toby, hop) {
  const [h, p, s] = toby.token.split('.')
  const flipped = s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1)
  const { iat, exp, ...claims } = JSON.parse(Buffer.from(p, 'base64url').toString())
  const foreign = createSigner({ key: randomBytes(48).toString('base64url'), algorithm: 'HS256', expiresIn: (exp - iat) * 1000 })(claims)
  return {
    tampered: `${toby.name}=${h}.${p}.${flipped}`,
    otherKey: `${toby.name}=${foreign}`,
    revoked: hop.cookie,
    garbage: `${toby.name}=not-a-token`
  }
}

/** GET /profile: 200 with the valid cookie; 303 to /login without one or with any bad one. */
async function checkProtected (server, label, goodCookie, cookies) {
  const ok = await request(`${server.base}/profile`, { headers: { cookie: goodCookie } })
  if (ok.status !== 200 || !ok.body.toString().includes('Thomas Edison')) throw new Error(`${label}: GET /profile with a valid cookie answered ${ok.status}`)
  const cases = { none: undefined, ...cookies }
  const statuses = {}
  for (const [what, cookie] of Object.entries(cases)) {
    const res = await request(`${server.base}/profile`, { headers: cookie === undefined ? {} : { cookie } })
    statuses[what] = res.status
    const location = res.headers.location ?? ''
    if ((res.status !== 302 && res.status !== 303) || !location.startsWith('/login')) {
      throw new Error(`${label}: GET /profile with ${what} cookie answered ${res.status} ${location} — it must redirect to /login`)
    }
  }
  step(`${label}: /profile 200 (${ok.body.length} bytes) with the cookie; ${Object.entries(statuses).map(([k, v]) => `${k} → ${v}`).join(', ')}`)
}

/* ------------------------------------------------------------------------------------------ */
/* Throughput: the table.                                                                     */
/* ------------------------------------------------------------------------------------------ */

function targetOpts (server, target) {
  return {
    title: target.key,
    url: server.base + target.path,
    method: target.method ?? 'GET',
    headers: target.headers ?? {},
    body: target.body,
    connections: target.connections ?? opts.connections
  }
}

/**
 * Other processes' use of the server's CPU (pinned) or of the machine (not pinned), in % of one
 * CPU, given our own processes' CPU use over the same interval.
 */
function otherLoad (before, after, ownPct) {
  if (pin.enabled) {
    const busy = cpuBusyPct(before, after, pin.server)
    return busy === null ? null : Math.max(0, busy - ownPct.server)
  }
  const busy = cpuBusyPct(before, after, 'all')
  return busy === null ? null : Math.max(0, busy * machine.cpus - ownPct.server - ownPct.loadgen)
}

/**
 * The machine runs other work: wait (up to --quiet-wait seconds) until other processes have used
 * less than a quarter of one CPU, summed over all CPUs, for a second (ours are idle meanwhile).
 * The other processes are not pinned: once the server is busy the kernel moves them to whichever
 * CPU has room, so the machine-wide sum is what predicts interference. Returns the seconds waited.
 */
async function waitForQuiet (label) {
  if (opts.quietWaitS <= 0) return 0
  const started = performance.now()
  let said = false
  for (;;) {
    const before = cpuTimes()
    await delay(1000)
    const busy = cpuBusyPct(before, cpuTimes(), 'all')
    const others = busy === null ? 0 : busy * machine.cpus
    if (others < 25) break
    const waited = (performance.now() - started) / 1000
    if (waited > opts.quietWaitS) {
      step(`${label}: other work still uses ${others}% of a CPU after ${Math.round(waited)} s of waiting; measuring anyway`)
      break
    }
    if (!said) step(`${label}: waiting for other work on the machine to stop (${others}% of a CPU)…`)
    said = true
  }
  return Math.round((performance.now() - started) / 1000)
}

async function measure (server, target, { durationS = opts.durationS, warmupS = opts.warmupS } = {}) {
  const o = targetOpts(server, target)
  const check = await request(o.url, { method: o.method, headers: o.headers, body: o.body })
  if (check.status !== 200) throw new Error(`${target.key}: ${o.method} ${target.path} answered ${check.status}, expected 200`)
  await waitForQuiet(target.key)
  if (warmupS > 0) {
    await loadgen.call({ type: 'run', opts: { ...o, duration: warmupS } })
    // Requests of the warm-up's abandoned connections may still be in the server's queue.
    await delay(500)
  }
  const cpu0 = { server: cpuSeconds(server.pid), loadgen: cpuSeconds(loadgen.pid), t: performance.now(), times: cpuTimes() }
  const r = await loadgen.call({ type: 'run', opts: { ...o, duration: durationS } })
  const elapsed = (performance.now() - cpu0.t) / 1000
  const pct = (now, before) => now === null || before === null ? null : Math.round(((now - before) / elapsed) * 100)
  r.serverCpuPct = pct(cpuSeconds(server.pid), cpu0.server)
  r.loadgenCpuPct = pct(cpuSeconds(loadgen.pid), cpu0.loadgen)
  r.otherCpuPct = otherLoad(cpu0.times, cpuTimes(), { server: r.serverCpuPct, loadgen: r.loadgenCpuPct })
  step(`${target.key.padEnd(18)} ${fmt(r.reqPerSec, 0).padStart(7)} req/s  p50 ${fmt(r.latencyMs.p50)} ms  p99 ${fmt(r.latencyMs.p99)} ms  errors ${r.errors + r.timeouts}  non-2xx ${r.non2xx}  CPU: server ${r.serverCpuPct}%, load generator ${r.loadgenCpuPct}%, other work ${r.otherCpuPct}%`)
  return r
}

const SIGN_IN_BODY = JSON.stringify({ uid: 'niko', password: 'niko-demo-pass' })
const JSON_HEADERS = { 'content-type': 'application/json' }

function appTargets (toby) {
  const cookie = { cookie: toby.cookie }
  return [
    { key: 'app GET /', title: 'app: GET / (public page)', path: '/' },
    { key: 'app GET /profile', title: 'app: GET /profile (protected page, cookie)', path: '/profile', headers: cookie },
    { key: 'app GET /api/id', title: 'app: GET /api/id (cookie)', path: '/api/id', headers: cookie },
    { key: 'app static css', title: 'app: GET /css/app.css (static file)', path: '/css/app.css' },
    { key: 'app POST sign-in', title: 'app: POST /api/authenticate (argon2id)', path: '/api/authenticate', method: 'POST', headers: JSON_HEADERS, body: SIGN_IN_BODY, connections: opts.authConnections }
  ]
}

/** The floor server on the bench's database, checked to refuse every bad cookie first. */
async function startFloor (toby, cookies, name = 'floor') {
  const floor = await startServer({
    name,
    script: join(benchDir, 'floor-server.mjs'),
    env: { PATH: env.PATH, FLOOR_DB_FILE: dbFile, JWT_SECRET: secret, COOKIE_NAME: toby.name },
    cwd: root,
    logDir: tmp,
    cpu: pin.server,
    readyPath: '/health'
  })
  await checkProtected(floor, name, toby.cookie, cookies)
  return floor
}

function startHello (name = 'hello') {
  return startServer({ name, script: join(benchDir, 'hello-server.mjs'), env: { PATH: env.PATH }, cwd: root, logDir: tmp, cpu: pin.server, readyPath: '/' })
}

async function throughput (toby, cookies) {
  const groups = [
    { server: 'app', start: () => startApp('app'), targets: appTargets(toby) },
    {
      server: 'floor',
      start: () => startFloor(toby, cookies),
      targets: [{ key: 'floor GET /profile', title: 'floor: GET /profile (fast-jwt + 1 SQL statement + template literal)', path: '/profile', headers: { cookie: toby.cookie } }]
    },
    {
      server: 'hello',
      start: () => startHello(),
      targets: [
        { key: 'hello GET /', title: 'hello: bare Fastify hello world (JSON)', path: '/' },
        { key: 'hello template', title: 'hello: bare Fastify + template literal home page', path: '/home' }
      ]
    }
  ]
  const byKey = new Map()
  for (let run = 1; run <= opts.runs; run++) {
    log(`\nThroughput, run ${run} of ${opts.runs}`)
    for (const group of groups) {
      const server = await group.start()
      try {
        for (const target of group.targets) {
          const r = await measure(server, target)
          const entry = byKey.get(target.key) ?? { key: target.key, title: target.title, server: group.server, path: target.path, method: target.method ?? 'GET', connections: target.connections ?? opts.connections, runs: [] }
          entry.runs.push(r)
          byKey.set(target.key, entry)
        }
        const rss = readRss(server.pid)
        results.serverRss ??= {}
        ;(results.serverRss[group.server] ??= []).push(rss.rssMB)
        step(`${group.server}: RSS ${rss.rssMB} MB after its targets`)
      } finally {
        await server.stop()
      }
    }
  }
  const rows = [...byKey.values()].map(e => ({
    ...e,
    median: {
      reqPerSec: median(e.runs.map(r => r.reqPerSec)),
      p50: median(e.runs.map(r => r.latencyMs.p50)),
      p99: median(e.runs.map(r => r.latencyMs.p99)),
      bytesPerResponse: median(e.runs.map(r => r.bytesPerResponse)),
      serverCpuPct: median(e.runs.map(r => r.serverCpuPct)),
      loadgenCpuPct: median(e.runs.map(r => r.loadgenCpuPct)),
      otherCpuPct: median(e.runs.map(r => r.otherCpuPct)),
      // Requests per second of server CPU: robust to other work taking CPU from the server.
      reqPerCpuSecond: median(e.runs.map(r => r.serverCpuPct > 0 ? r.reqPerSec / (r.serverCpuPct / 100) : null)),
      errors: e.runs.reduce((s, r) => s + r.errors + r.timeouts, 0),
      non2xx: e.runs.reduce((s, r) => s + r.non2xx, 0)
    }
  }))
  const get = key => rows.find(r => r.key === key)?.median
  const app = get('app GET /profile')
  const floor = get('floor GET /profile')
  const home = get('app GET /')
  const tpl = get('hello template')
  const hello = get('hello GET /')
  const ratios = {
    protectedReqPerSec: r2(app.reqPerSec / floor.reqPerSec),
    protectedP99: r2(app.p99 / floor.p99),
    homeVsHelloTemplate: r2(home.reqPerSec / tpl.reqPerSec),
    homeVsHello: r2(home.reqPerSec / hello.reqPerSec),
    protectedPerCpuSecond: r2(app.reqPerCpuSecond / floor.reqPerCpuSecond),
    homeVsHelloTemplatePerCpuSecond: r2(home.reqPerCpuSecond / tpl.reqPerCpuSecond)
  }
  results.throughput = { rows, ratios }
  const row = key => rows.find(r => r.key === key)
  const protectedRows = caveat([row('app GET /profile'), row('floor GET /profile')])
  verdict('protected page req/s, app/floor', ratios.protectedReqPerSec, ratios.protectedReqPerSec >= 0.8, '>= 0.8', protectedRows)
  verdict('protected page p99, app/floor', ratios.protectedP99, ratios.protectedP99 <= 1.5, '<= 1.5', protectedRows)
  verdict('home page req/s, app/hello-template', ratios.homeVsHelloTemplate, ratios.homeVsHelloTemplate >= 0.8, '>= 0.8', caveat([row('app GET /'), row('hello template')]))
}

/* ------------------------------------------------------------------------------------------ */
/* Pairs: the two page ratios measured with both servers at once (docs/decisions/0026).        */
/* ------------------------------------------------------------------------------------------ */

/**
 * The throughput table loads one server at a time from one autocannon; on a fast machine the
 * light pages (the home page, hello-template) reach what one load-generator CPU can send, and
 * their ratio is then the generator's, not the servers'. Here the app and its reference run at
 * the same time on the server's CPU, each loaded by its own autocannon, and each round compares
 * their requests per CPU-second.
 */
async function pairs (toby, cookies) {
  if (!pin.enabled) {
    step(`pairs: skipped (they need two CPUs to pin to: ${pin.reason})`)
    return
  }
  const cookie = { cookie: toby.cookie }
  const runs = [
    { key: 'home', label: 'home app/hello-template', title: 'home page: app GET / and hello-template GET /home', start: () => startHello('hello-paired'), referencePath: '/home', appPath: '/', headers: {} },
    { key: 'protected', label: 'protected page app/floor', title: 'protected page: app and floor GET /profile with the cookie', start: () => startFloor(toby, cookies, 'floor-paired'), referencePath: '/profile', appPath: '/profile', headers: cookie }
  ]
  results.pairs = {}
  for (const run of runs) {
    log(`\nIn pairs, ${run.title}: ${opts.pairRounds} rounds of ${opts.pairDurationS} s after ${opts.warmupS} s warm-up, ${Math.ceil(opts.connections / 2)} connections each`)
    const reference = await run.start()
    const app = await startApp('app-paired')
    try {
      await waitForQuiet(`pairs ${run.key}`)
      log('round   reference req/CPU-s   app req/CPU-s   app/reference')
      const paired = await pairedRounds({
        servers: [
          { name: reference.name, pid: reference.pid, url: reference.base + run.referencePath, headers: run.headers },
          { name: app.name, pid: app.pid, url: app.base + run.appPath, headers: run.headers }
        ],
        loadgenScript: join(benchDir, 'lib', 'loadgen.mjs'),
        cpu: pin.loadgen,
        cwd: root,
        connections: Math.ceil(opts.connections / 2),
        warmupS: opts.warmupS,
        durationS: opts.pairDurationS,
        rounds: opts.pairRounds,
        onRound: ({ round, perCpu, ratio }) => log(`${String(round).padStart(5)}   ${fmt(perCpu[0], 0).padStart(19)}   ${fmt(perCpu[1], 0).padStart(13)}   ${ratio.toFixed(3).padStart(13)}`)
      })
      results.pairs[run.key] = { label: run.label, title: run.title, median: r2(paired.median), min: r2(paired.min), max: r2(paired.max), rounds: paired.rounds }
      step(`${run.key}: app/reference ${fmt(paired.median)} (median; ${fmt(paired.min)} to ${fmt(paired.max)})`)
    } finally {
      await app.stop()
      await reference.stop()
    }
  }
  for (const key of ['protected', 'home']) {
    const { label, median } = results.pairs[key]
    verdict(`in pairs, ${label} req per CPU-second`, median, median >= 0.8, '>= 0.8')
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Login storm: sign-in loops beside page traffic.                                             */
/* ------------------------------------------------------------------------------------------ */

async function storm (toby) {
  log(`\nLogin storm: ${opts.stormConnections} sign-in loops (POST /api/authenticate as niko) beside GET /profile at ${opts.connections} connections`)
  const app = await startApp('app-storm')
  try {
    const page = { key: 'storm: page', path: '/profile', headers: { cookie: toby.cookie } }
    const without = await measure(app, { ...page, key: 'profile, no storm' })
    const pageOpts = { ...targetOpts(app, page), duration: opts.durationS }
    const signIns = { ...targetOpts(app, { key: 'storm: sign-ins', path: '/api/authenticate', method: 'POST', headers: JSON_HEADERS, body: SIGN_IN_BODY, connections: opts.stormConnections }), duration: opts.durationS + 2 }
    // The storm starts first and outlasts the page measurement by a second on each side.
    await waitForQuiet('storm')
    const cpu0 = { server: cpuSeconds(app.pid), loadgen: cpuSeconds(loadgen.pid), t: performance.now(), times: cpuTimes() }
    const [storming, withStorm] = await loadgen.call({ type: 'parallel', runs: [{ opts: signIns }, { opts: pageOpts, delayMs: 1000 }] })
    const elapsed = (performance.now() - cpu0.t) / 1000
    withStorm.serverCpuPct = Math.round(((cpuSeconds(app.pid) - cpu0.server) / elapsed) * 100)
    withStorm.loadgenCpuPct = Math.round(((cpuSeconds(loadgen.pid) - cpu0.loadgen) / elapsed) * 100)
    withStorm.otherCpuPct = otherLoad(cpu0.times, cpuTimes(), { server: withStorm.serverCpuPct, loadgen: withStorm.loadgenCpuPct })
    const ratio = r2(withStorm.latencyMs.p99 / without.latencyMs.p99)
    step(`profile, in storm   ${fmt(withStorm.reqPerSec, 0).padStart(7)} req/s  p50 ${fmt(withStorm.latencyMs.p50)} ms  p99 ${fmt(withStorm.latencyMs.p99)} ms  errors ${withStorm.errors + withStorm.timeouts}  non-2xx ${withStorm.non2xx}  CPU: server ${withStorm.serverCpuPct}% (all threads, hashing included), other work ${withStorm.otherCpuPct}%`)
    step(`sign-ins (storm)    ${fmt(storming.reqPerSec, 1).padStart(7)} /s     p50 ${fmt(storming.latencyMs.p50)} ms  p99 ${fmt(storming.latencyMs.p99)} ms  errors ${storming.errors + storming.timeouts}  non-2xx ${storming.non2xx}`)
    results.storm = { withoutStorm: without, withStorm, signIns: storming, p99Ratio: ratio }
    verdict('login storm: /profile p99 with/without', ratio, ratio < 3, '< 3')
  } finally {
    await app.stop()
  }
}

/* ------------------------------------------------------------------------------------------ */
/* RSS after 200k requests (three rounds), then the home page transfer on the same server.     */
/* ------------------------------------------------------------------------------------------ */

async function rssAndTransfer (toby) {
  const app = await startApp('app-rss')
  try {
    if (sections.has('rss')) {
      const perRound = Math.ceil(opts.rssRequests / opts.rssRounds)
      log(`\nRSS: ${opts.rssRounds} rounds of ${perRound} requests (GET /profile, /api/id, /, /css/app.css in turn, ${opts.connections} connections)`)
      const atStart = readRss(app.pid)
      step(`after start: ${atStart.rssMB} MB`)
      const rounds = []
      for (let i = 1; i <= opts.rssRounds; i++) {
        await waitForQuiet(`RSS round ${i}`)
        const r = await loadgen.call({
          type: 'run',
          opts: {
            title: `rss round ${i}`,
            url: app.base,
            connections: opts.connections,
            amount: perRound,
            headers: { cookie: toby.cookie },
            requests: [{ path: '/profile' }, { path: '/api/id' }, { path: '/' }, { path: '/css/app.css' }]
          }
        })
        await delay(500)
        const rss = readRss(app.pid)
        rounds.push({ round: i, requests: r.requests, reqPerSec: r.reqPerSec, errors: r.errors + r.timeouts, non2xx: r.non2xx, ...rss })
        step(`after round ${i} (${i * perRound} requests, ${fmt(r.reqPerSec, 0)} req/s, errors ${r.errors + r.timeouts}, non-2xx ${r.non2xx}): RSS ${rss.rssMB} MB, peak ${rss.peakMB} MB`)
      }
      const first = rounds[0].rssMB
      const last = rounds.at(-1).rssMB
      const max = Math.max(...rounds.map(r => r.rssMB))
      const growthPct = r2(((last - first) / first) * 100)
      const flat = growthPct <= 10
      results.rss = { atStartMB: atStart.rssMB, rounds, maxMB: max, growthFirstToLastPct: growthPct, flat }
      verdict(`RSS after ${opts.rssRequests} requests (MB, max of ${opts.rssRounds} rounds)`, max, max < 150, '< 150')
      verdict('RSS flat across rounds (growth first→last round, %)', growthPct, flat, '<= 10')
    }
    if (sections.has('transfer')) {
      log('\nHome page transfer (signed out, first visit)')
      const t = await measureHomeTransfer(app.base, '/')
      for (const r of t.resources) step(`${String(r.status)} ${r.url.padEnd(24)} ${String(r.bodyBytes).padStart(7)} B body (${r.contentEncoding}), ${r.headBytes} B headers  ${r.contentType}`)
      for (const u of t.thirdParty) step(`third-party: ${u}`)
      step(`total ${t.bodyBytes} B of bodies (${t.bytesWithHeaders} B with headers) in ${t.requests} requests; ${t.thirdPartyCount} third-party`)
      results.transfer = t
      verdict('home page transfer (kB of bodies, 1 kB = 1000 B)', r2(t.bodyBytes / 1000), t.bodyBytes < 60_000 && t.failed.length === 0, '< 60')
      verdict('home page third-party requests', t.thirdPartyCount, t.thirdPartyCount === 0, '0')
    }
  } finally {
    await app.stop()
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Cold start to first served page.                                                            */
/* ------------------------------------------------------------------------------------------ */

async function coldStart () {
  log(`\nCold start: spawn dist/server.js (production, migrated database) until GET / answers 200, ${opts.coldStarts} time(s)`)
  const times = []
  for (let i = 1; i <= opts.coldStarts; i++) {
    await waitForQuiet(`cold start ${i}`)
    const app = await startApp(`app-cold-${i}`, { readyPath: '/', pollMs: 5 })
    times.push(Math.round(app.readyMs))
    await app.stop()
    step(`start ${i}: ${Math.round(app.readyMs)} ms`)
  }
  const med = median(times)
  results.coldStart = { ms: times, medianMs: med }
  verdict('cold start to first page (ms, median)', med, med < 1000, '< 1000')
}

/* ------------------------------------------------------------------------------------------ */
/* CPU profiles of GET /profile and GET / (--profile).                                         */
/* ------------------------------------------------------------------------------------------ */

async function profile (toby) {
  log(`\nCPU profiles: GET /profile (app, floor) and GET / (app, hello-template) for ${opts.durationS} s at ${opts.connections} connections under node --cpu-prof (throughput under the profiler is lower; not comparable with the table)`)
  const out = join(benchDir, 'results')
  mkdirSync(out, { recursive: true })
  results.profile = {}
  const app = { script: 'dist/server.js', env: appEnv, readyPath: '/api/health', flags: [...serverFlags, ...opts.appNodeFlags] }
  const floor = { script: join(benchDir, 'floor-server.mjs'), env: { PATH: env.PATH, FLOOR_DB_FILE: dbFile, JWT_SECRET: secret, COOKIE_NAME: toby.name }, readyPath: '/health' }
  const hello = { script: join(benchDir, 'hello-server.mjs'), env: { PATH: env.PATH }, readyPath: '/' }
  // The protected page against the floor, and the signed-out home page against hello-template.
  const profiled = {
    app: { ...app, path: '/profile', headers: { cookie: toby.cookie } },
    floor: { ...floor, path: '/profile', headers: { cookie: toby.cookie } },
    'app-home': { ...app, path: '/' },
    'hello-template': { ...hello, path: '/home' }
  }
  for (const [name, { path, headers, ...s }] of Object.entries(profiled)) {
    const dir = join(tmp, `cpuprof-${name}`)
    const server = await startServer({ name: `${name}-profile`, cwd: root, logDir: tmp, cpu: pin.server, ...s, nodeFlags: [...(s.flags ?? []), '--cpu-prof', `--cpu-prof-dir=${dir}`] })
    let r
    try {
      r = await measure(server, { key: `${name} (profiled)`, path, headers })
    } finally {
      await server.stop()
    }
    const file = readdirSync(dir).find(f => f.endsWith('.cpuprofile'))
    if (file === undefined) throw new Error(`${name}: no .cpuprofile written; log:\n${tail(server.logFile)}`)
    const kept = join(out, `${stamp}-${name}-profile.cpuprofile`)
    copyFileSync(join(dir, file), kept)
    // Start-up and warm-up left out: the summary is the steady state.
    const summary = summariseCpuProfile(kept, { root, top: 30, skipMs: server.readyMs + opts.warmupS * 1000 + 500 })
    results.profile[name] = { reqPerSec: r.reqPerSec, file: relative(root, kept), ...summary }
    log(`\n${name} GET ${path}: ${fmt(r.reqPerSec, 0)} req/s profiled; ${summary.sampledMs} ms sampled after start-up and warm-up, ${summary.idleMs} ms idle; profile kept in ${relative(root, kept)} (open in Chrome DevTools)`)
    log('  self %   self ms  function (location)')
    for (const f of summary.topFunctionsBySelfTime.slice(0, name.startsWith('app') ? 30 : 12)) {
      log(`  ${fmt(f.selfPct, 1).padStart(6)} ${fmt(f.selfMs, 0).padStart(9)}  ${f.function} (${f.location || f.package})`)
    }
    printPackages(summary)
  }

  // Where the cold start goes: the app under the profiler from spawn to the first page.
  await waitForQuiet('start-up profile')
  const dir = join(tmp, 'cpuprof-startup')
  const server = await startApp('app-startup-profile', { readyPath: '/', pollMs: 5, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] })
  const readyMs = Math.round(server.readyMs)
  await server.stop()
  const file = readdirSync(dir).find(f => f.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`start-up: no .cpuprofile written; log:\n${tail(server.logFile)}`)
  const kept = join(out, `${stamp}-app-startup.cpuprofile`)
  copyFileSync(join(dir, file), kept)
  const summary = summariseCpuProfile(kept, { root, top: 30 })
  // The profile runs on until the server is stopped: only the part before the first page counts.
  const startup = summariseCpuProfile(kept, { root, top: 30, untilMs: readyMs })
  results.profile.startup = { readyMs, file: relative(root, kept), ...startup, wholeProfileMs: summary.sampledMs }
  log(`\nstart-up: first page after ${readyMs} ms under the profiler; ${startup.sampledMs} ms sampled; profile kept in ${relative(root, kept)}`)
  log('  self %   self ms  function (location)')
  for (const f of startup.topFunctionsBySelfTime.slice(0, 15)) {
    log(`  ${fmt(f.selfPct, 1).padStart(6)} ${fmt(f.selfMs, 0).padStart(9)}  ${f.function} (${f.location || f.package})`)
  }
  printPackages(startup)
}

function printPackages (summary) {
  log('  by package: self % / inclusive %')
  const incl = new Map(summary.packagesByInclusiveTime.map(p => [p.package, p.inclusivePct]))
  for (const p of summary.packagesBySelfTime.slice(0, 16)) {
    log(`  ${fmt(p.selfPct, 1).padStart(6)} / ${fmt(incl.get(p.package) ?? null, 1).padStart(5)}  ${p.package}`)
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Report.                                                                                     */
/* ------------------------------------------------------------------------------------------ */

function report () {
  log('')
  if (results.throughput !== undefined) {
    const { rows, ratios } = results.throughput
    const suffix = opts.runs > 1 ? ` (median of ${opts.runs} runs)` : ''
    const head = ['target', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'B/resp', 'errors', 'non-2xx', 'req/CPU-s', 'CPU srv/gen/other %']
    const body = rows.map(r => [r.key, String(r.connections), fmt(r.median.reqPerSec, 0), fmt(r.median.p50), fmt(r.median.p99), String(r.median.bytesPerResponse ?? '—'), String(r.median.errors), String(r.median.non2xx), fmt(r.median.reqPerCpuSecond, 0),
      `${r.median.serverCpuPct ?? '—'}/${r.median.loadgenCpuPct ?? '—'}/${r.median.otherCpuPct ?? '—'}${r.median.loadgenCpuPct >= 90 ? ' *' : ''}${r.median.otherCpuPct >= 15 ? ' !' : ''}`])
    const widths = head.map((h, i) => Math.max(h.length, ...body.map(row => row[i].length)))
    const line = row => row.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ')
    log(`Throughput, ${opts.durationS} s per target${suffix}`)
    log(line(head))
    log(widths.map(w => '-'.repeat(w)).join('  '))
    for (const row of body) log(line(row))
    if (rows.some(r => r.median.loadgenCpuPct >= 90)) log('* the load generator used most of its CPU: that figure is a lower bound (load-generator bound)')
    if (rows.some(r => r.median.otherCpuPct >= 15)) log(`! other work used ${pin.enabled ? 'the server\'s CPU' : 'the machine'} during the measurement: that figure is low and noisy; repeat (--runs=3)`)
    log('')
    log(`protected page app/floor: ${fmt(ratios.protectedReqPerSec)}`)
    log(`protected page p99 app/floor: ${fmt(ratios.protectedP99)}`)
    log(`home app/hello-template: ${fmt(ratios.homeVsHelloTemplate)}`)
    log(`home app/hello: ${fmt(ratios.homeVsHello)}`)
    log(`per server CPU-second (less sensitive to other work on the machine): protected page app/floor ${fmt(ratios.protectedPerCpuSecond)}, home app/hello-template ${fmt(ratios.homeVsHelloTemplatePerCpuSecond)}`)
  }
  if (results.pairs !== undefined) {
    for (const p of Object.values(results.pairs)) log(`in pairs, ${p.label} (req per CPU-second, both at once): ${fmt(p.median)} (${fmt(p.min)} to ${fmt(p.max)})`)
  }
  if (results.storm !== undefined) {
    const s = results.storm
    log(`login storm /profile p99: ${fmt(s.withoutStorm.latencyMs.p99)} ms without, ${fmt(s.withStorm.latencyMs.p99)} ms with ${opts.stormConnections} sign-in loops (${fmt(s.signIns.reqPerSec, 1)} sign-ins/s): ${fmt(s.p99Ratio)}x`)
  }
  if (results.coldStart !== undefined) log(`cold start to first page: ${results.coldStart.medianMs} ms (median of ${results.coldStart.ms.join(', ')})`)
  if (results.rss !== undefined) log(`RSS after ${results.rss.rounds.map(r => r.round * Math.ceil(opts.rssRequests / opts.rssRounds)).join(' / ')} requests: ${results.rss.rounds.map(r => r.rssMB).join(' / ')} MB (at start ${results.rss.atStartMB} MB)`)
  if (results.transfer !== undefined) log(`home page transfer: ${fmt(results.transfer.bodyBytes / 1000, 1)} kB in ${results.transfer.requests} requests, ${results.transfer.thirdPartyCount} third-party`)

  if (verdicts.length > 0) {
    log('\nTargets (issue 4)')
    for (const v of verdicts) log(`  ${v.pass ? 'PASS' : 'FAIL'}  ${v.name}: ${v.value} (target ${v.target})${v.note ? ` — ${v.note}` : ''}`)
  }
  results.targets = verdicts
  results.loadAverageAtEnd = loadavg().map(x => Math.round(x * 100) / 100)
  results.finishedAt = new Date().toISOString()
  const dir = join(benchDir, 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${stamp}.json`)
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
  log(`\nresults: ${relative(root, file)}`)
}

try {
  await main()
  if (loadgen !== null) await loadgen.close()
  cleanup()
} catch (err) {
  console.error(`\nbench failed: ${err.stack ?? err}`)
  if (loadgen !== null) await loadgen.close().catch(() => {})
  flags.keep = true
  cleanup()
  process.exit(1)
}
