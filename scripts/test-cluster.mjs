#!/usr/bin/env node
/**
 * `npm run test:cluster`: three instances of the built app (`node dist/server.js`, production
 * settings) on one fresh PostgreSQL database and one Redis, behind nginx round-robin, all on
 * loopback. Checks, each printed as one ok/FAIL line with its figure:
 *
 *   balance     sign in through nginx; GET /api/id many times: all 200, every instance answered
 *   cookie      the same cookie works on each instance directly (/api/id and the /profile page)
 *   health      /api/health on each instance reports the database and Redis
 *   revocation  sign out on one instance; every instance refuses the old cookie within REVOCATION_BOUND_MS
 *   rate-limit  failed sign-ins through nginx are limited collectively (LOGIN_RATE_LIMIT for all instances)
 *   failover    one instance SIGKILLed during a load loop: GETs all succeed, every 2xx sign-up
 *               exists exactly once, 502s of sign-ups in flight are counted, the others keep serving
 *
 * `--bench`: instead of the checks, GET /profile (signed in) through nginx with 1 and with 3
 * instances behind it (autocannon), req/s, p50, p99.
 *
 * Client addresses: every phase talks from its own loopback address (127.77.x.y, 127.78.x.y;
 * Linux answers on all of 127.0.0.0/8), so the per-IP sign-in limit of one phase does not eat into
 * another's, and each sign-up of the load loop counts as a different visitor.
 *
 * Everything it makes (database, Redis keys under a per-run prefix, temp folder with nginx.conf and
 * logs, processes) is removed at the end, also on failure or ^C. See docs/decisions/0017-cluster-test.md.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { availableParallelism, loadavg, tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { freePort, isExecutable, onPostgresServer, serverNodeFlags } from './lib/system.mjs'

/** With REDIS_URL set, a sign-out on one instance must reach every other's session cache within this. */
const REVOCATION_BOUND_MS = 1000
/** How long the revocation check keeps polling to report a figure past the bound (SESSION_CACHE_MS is 5000). */
const REVOCATION_POLL_MS = 8000
/** LOGIN_RATE_LIMIT for this run: credential attempts per client IP per window, all instances together. */
const LOGIN_RATE_LIMIT = 6
const INSTANCES = 3
const LOAD_CLIENTS = 20
const LOAD_SECONDS = 5
/** When, into the load loop, one instance is killed. */
const KILL_AFTER_MS = 2000
/** Every how many requests of a load client is a sign-up (POST /api/users); the rest are GET /api/id. */
const SIGNUP_EVERY = 4

const HELP = `npm run test:cluster [-- options]

  (no option)          the checks (about a minute): balance, cookie, health, revocation, rate-limit, failover
  --bench              instead of the checks: GET /profile throughput through nginx, 1 vs ${INSTANCES} instances
  --duration=S         seconds measured per bench target (default 10)
  --connections=N      bench connections (default 50)
  --skip-build         use the existing dist/ (after a build you trust)
  --keep               keep the temp folder (nginx.conf, nginx and app logs) and print its path

Needs: nginx (installed with apt-get when missing, as root on Debian), PostgreSQL at
TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres, trust auth), Redis at
TEST_REDIS_URL (default redis://127.0.0.1:6379).
`

const { values: flags } = parseArgs({
  options: {
    help: { type: 'boolean' },
    bench: { type: 'boolean' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    'skip-build': { type: 'boolean' },
    keep: { type: 'boolean' }
  }
})
if (flags.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const root = fileURLToPath(new URL('..', import.meta.url))
const started = performance.now()
const runId = randomBytes(4).toString('hex')
const pgServer = new URL(process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres')
const database = `fastify_portfolio_cluster_${process.pid}_${Date.now().toString(36)}`
const databaseUrl = new URL(pgServer)
databaseUrl.pathname = `/${database}`
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const redisPrefix = `cluster-test-${runId}:`
const jwtSecret = randomBytes(48).toString('base64url')
const password = `pw-${randomBytes(12).toString('base64url')}`

const log = (...args) => console.log(...args)
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`
const step = text => log(`· ${text}`)

/* ------------------------------------------------------------------------------------------ */
/* Plain HTTP: one request, redirects not followed, optional source address and agent.        */
/* ------------------------------------------------------------------------------------------ */

/**
 * Returns `{ status, headers, body, ms }`. `from` is the local (source) address; without an
 * `agent` the connection is closed after the response.
 */
function request (url, { method = 'GET', headers = {}, json, from, agent, timeoutMs = 15_000 } = {}) {
  const body = json === undefined ? undefined : JSON.stringify(json)
  const allHeaders = { ...(agent === undefined ? { connection: 'close' } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: allHeaders, agent: agent ?? false, localAddress: from }, (res) => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0 }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url}`)))
    if (body !== undefined) req.write(body)
    req.end()
  })
}

function sessionCookie (res) {
  const pair = [res.headers['set-cookie'] ?? []].flat().map(c => c.split(';')[0]).find(c => /^(__Host-)?token=./.test(c))
  if (pair === undefined) throw new Error(`no session cookie in the response (status ${res.status})`)
  return pair
}

function tail (file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Processes: the app instances and nginx, each with a log file in the temp folder.           */
/* ------------------------------------------------------------------------------------------ */

const processes = new Set()

/** Spawns a process with stdout and stderr to `logFile`; `exited` resolves on exit. */
function launch (name, command, args, { env, cwd = root, logFile }) {
  const fd = openSync(logFile, 'a')
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const proc = { name, child, logFile, exit: null }
  proc.exited = new Promise(resolve => child.once('exit', (code, signal) => {
    proc.exit = { code, signal }
    processes.delete(proc)
    resolve(proc.exit)
  }))
  child.once('error', (err) => { proc.exit ??= { code: null, signal: null, error: err } })
  processes.add(proc)
  return proc
}

async function stop (proc, signal = 'SIGTERM', graceMs = 5000) {
  if (proc.exit !== null) return proc.exit
  proc.child.kill(signal)
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs)
  const exit = await proc.exited
  clearTimeout(timer)
  return exit
}

/** Polls `url` until it answers 200; fails when the process exits or after `timeoutMs`. */
async function waitReady (proc, url, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs
  let last = 'no answer yet'
  for (;;) {
    if (proc.exit !== null) throw new Error(`${proc.name} exited before it was ready (${JSON.stringify(proc.exit)}); ${proc.logFile}:\n${tail(proc.logFile)}`)
    if (performance.now() > deadline) throw new Error(`${proc.name} was not ready after ${timeoutMs} ms (GET ${url}: ${last}); ${proc.logFile}:\n${tail(proc.logFile)}`)
    try {
      const res = await request(url, { timeoutMs: 2000 })
      if (res.status === 200) return
      last = `${res.status} ${res.body.slice(0, 200)}`
    } catch (err) {
      last = err.code ?? err.message
    }
    await delay(50)
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Set-up: nginx, build, database, Redis, instances, the load balancer.                       */
/* ------------------------------------------------------------------------------------------ */

const NGINX_PATHS = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']

function findNginx () {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    if (isExecutable(join(dir, 'nginx'))) return join(dir, 'nginx')
  }
  return NGINX_PATHS.find(isExecutable) ?? null
}

function installNginx () {
  step('nginx not found; installing the Debian package `nginx` with apt-get...')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const run = args => spawnSync('apt-get', args, { stdio: 'inherit', env }).status === 0
  return run(['update']) && run(['install', '-y', '--no-install-recommends', 'nginx'])
}

function ensureNginx () {
  let nginx = findNginx()
  if (nginx === null && existsSync('/etc/debian_version') && process.getuid?.() === 0 && installNginx()) nginx = findNginx()
  if (nginx === null) {
    throw new Error([
      'nginx is not installed, so the multi-instance test cannot run.',
      'Install it:  sudo apt-get install --no-install-recommends nginx   (Debian/Ubuntu)',
      '(run as root on Debian, this script installs it itself), or put an nginx binary on PATH.'
    ].join('\n'))
  }
  return nginx
}

async function redisClient () {
  const { Redis } = await import('ioredis')
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: () => null })
  redis.on('error', () => {})
  await redis.connect()
  return redis
}

/** Deletes this run's keys (rate-limit counters, throttle state) from Redis. */
async function dropRedisKeys () {
  const redis = await redisClient()
  try {
    let cursor = '0'
    let deleted = 0
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
    return deleted
  } finally {
    redis.disconnect()
  }
}

let tmp = null

function appEnv (port) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    INSTANCE_DIR: join(tmp, `instance-${port}`),
    DATABASE_URL: databaseUrl.toString(),
    MIGRATE_ON_START: 'true',
    SEED_DEMO_USERS: 'false',
    JWT_SECRET: jwtSecret,
    TRUST_PROXY: '127.0.0.1',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: redisPrefix,
    LOGIN_RATE_LIMIT: String(LOGIN_RATE_LIMIT),
    SESSION_CACHE_MS: '5000'
  }
}

async function startInstance (label) {
  const port = await freePort()
  mkdirSync(join(tmp, `instance-${port}`), { recursive: true })
  const proc = launch(`instance ${label}`, process.execPath, [...serverNodeFlags(root), join(root, 'dist', 'server.js')], { env: appEnv(port), logFile: join(tmp, `app-${label}.log`) })
  const base = `http://127.0.0.1:${port}`
  await waitReady(proc, `${base}/api/health`)
  return { label, port, base, proc, upstream: `127.0.0.1:${port}` }
}

function nginxConf ({ port, upstreams, name }) {
  const dir = join(tmp, name)
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub), { recursive: true })
  // A master started as root would hand its workers to "nobody", who cannot write the temp folder.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : ''
  return `# Written by scripts/test-cluster.mjs for one run.
${user}daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log combined buffer=64k flush=1s;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
${upstreams.map(u => `    server ${u} max_fails=1 fail_timeout=10s;`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    # A client connection is closed after this many requests (1000 by default), which the bench's
    # load generator can count as an error when a request races the close.
    keepalive_requests 100000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      # Another instance when one fails; nginx resends only idempotent requests (GET, HEAD,
      # PUT, DELETE...) once a request has been sent, never a POST (no "non_idempotent").
      proxy_next_upstream error timeout http_502;
      proxy_connect_timeout 2s;
      proxy_read_timeout 30s;
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`
}

async function startNginx (nginx, name, upstreams) {
  const port = await freePort()
  const conf = join(tmp, `${name}.conf`)
  writeFileSync(conf, nginxConf({ port, upstreams, name }))
  // -e: the error log before the config is read (else nginx opens /var/log/nginx/error.log).
  const proc = launch(name, nginx, ['-p', join(tmp, name), '-c', conf, '-e', join(tmp, name, 'error.log')], { env: process.env, cwd: tmp, logFile: join(tmp, `${name}.out`) })
  const base = `http://127.0.0.1:${port}`
  try {
    await waitReady(proc, `${base}/api/health`, 15_000)
  } catch (err) {
    throw new Error(`${err.message}\n${join(tmp, name, 'error.log')}:\n${tail(join(tmp, name, 'error.log'))}`)
  }
  return { name, port, base, proc }
}

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                     */
/* ------------------------------------------------------------------------------------------ */

const results = []
function report (name, pass, figure) {
  results.push({ name, pass })
  log(`${pass ? 'ok  ' : 'FAIL'} ${name.padEnd(11)} ${figure}`)
}

let interrupted = false

async function runCheck (name, fn) {
  if (interrupted) return
  try {
    await fn()
  } catch (err) {
    if (!interrupted) report(name, false, `error: ${err.message}`)
  }
}

const count = (xs) => {
  const m = new Map()
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1)
  return m
}
const fmtCounts = m => [...m].map(([k, v]) => `${k} ${v}`).join(', ')

/** The instance that finally answered (X-Upstream lists every one nginx tried, comma-separated). */
function answeredBy (res, instances) {
  const last = String(res.headers['x-upstream'] ?? '').split(',').at(-1).trim()
  return instances.find(i => i.upstream === last)?.label ?? `?${last}`
}

async function signUp (base, uid, from) {
  return request(`${base}/api/users`, { method: 'POST', json: { uid, name: `Cluster ${uid}`, password }, from })
}

async function signIn (base, uid, from) {
  const res = await request(`${base}/api/authenticate`, { method: 'POST', json: { uid, password }, from })
  if (res.status !== 200) throw new Error(`sign-in as ${uid} answered ${res.status}: ${res.body.slice(0, 200)}`)
  return sessionCookie(res)
}

async function checkBalance (lb, instances, uid, cookie) {
  const n = 30
  const responses = []
  for (let i = 0; i < n; i++) responses.push(await request(`${lb.base}/api/id`, { headers: { cookie }, from: '127.77.0.1' }))
  const ok = responses.filter(r => r.status === 200 && JSON.parse(r.body).uid === uid).length
  const by = count(responses.map(r => answeredBy(r, instances)))
  const allUsed = instances.every(i => by.has(i.label))
  report('balance', ok === n && allUsed, `GET /api/id through nginx: ${ok}/${n} answered 200 as ${uid}; by instance: ${fmtCounts(by)}`)
}

async function checkCookie (instances, uid, cookie) {
  const parts = []
  let pass = true
  for (const inst of instances) {
    const id = await request(`${inst.base}/api/id`, { headers: { cookie } })
    const page = await request(`${inst.base}/profile`, { headers: { cookie } })
    const good = id.status === 200 && JSON.parse(id.body).uid === uid && page.status === 200 && page.body.includes(uid)
    pass &&= good
    parts.push(`${inst.label}: /api/id ${id.status}, /profile ${page.status}${good ? '' : ' (wrong)'}`)
  }
  report('cookie', pass, `one cookie on each instance directly — ${parts.join('; ')}`)
}

async function checkHealth (instances) {
  const parts = []
  let pass = true
  for (const inst of instances) {
    const res = await request(`${inst.base}/api/health`)
    let body = {}
    try { body = JSON.parse(res.body) } catch {}
    const good = res.status === 200 && body.status === 'ok' && body.database === 'ok' && body.redis === 'ok'
    pass &&= good
    parts.push(`${inst.label}: ${res.status} status=${body.status ?? '(none)'} database=${body.database ?? '(none)'} redis=${body.redis ?? '(none)'}`)
  }
  report('health', pass, `/api/health — ${parts.join('; ')}`)
}

async function checkRevocation (lb, instances, uid) {
  const cookie = await signIn(lb.base, uid, '127.77.0.3')
  // Every instance verifies the session once, so each has it in its session cache.
  for (const inst of instances) {
    const res = await request(`${inst.base}/api/id`, { headers: { cookie } })
    if (res.status !== 200) throw new Error(`before sign-out ${inst.label} answered ${res.status} on /api/id`)
  }
  const [signer] = instances
  const out = await request(`${signer.base}/api/logout`, { method: 'POST', headers: { cookie } })
  const t0 = performance.now()
  if (out.status !== 200) throw new Error(`POST /api/logout on ${signer.label} answered ${out.status}: ${out.body.slice(0, 200)}`)
  const refusedAt = new Map()
  while (refusedAt.size < instances.length && performance.now() - t0 < REVOCATION_POLL_MS) {
    await Promise.all(instances.filter(i => !refusedAt.has(i.label)).map(async (inst) => {
      const res = await request(`${inst.base}/api/id`, { headers: { cookie } })
      if (res.status === 401) refusedAt.set(inst.label, performance.now() - t0)
      else if (res.status !== 200) throw new Error(`${inst.label} answered ${res.status} on /api/id with the signed-out cookie`)
    }))
    if (refusedAt.size < instances.length) await delay(20)
  }
  const pages = await Promise.all(instances.map(inst => request(`${inst.base}/profile`, { headers: { cookie } })))
  const redirects = pages.filter(p => p.status === 303 && String(p.headers.location ?? '').startsWith('/login')).length
  const last = refusedAt.size === instances.length ? Math.max(...refusedAt.values()) : null
  const times = instances.map(i => `${i.label} ${refusedAt.has(i.label) ? `${Math.round(refusedAt.get(i.label))} ms` : `not after ${REVOCATION_POLL_MS} ms`}`).join(', ')
  const pass = last !== null && last <= REVOCATION_BOUND_MS && redirects === instances.length
  report('revocation', pass, `signed out on ${signer.label}; old cookie refused (401) by the last instance after ${last === null ? '—' : `${Math.round(last)} ms`} (bound ${REVOCATION_BOUND_MS} ms; ${times}); GET /profile 303 → /login on ${redirects}/${instances.length}`)
}

async function checkRateLimit (lb, instances) {
  const from = '127.77.0.4'
  const attempts = LOGIN_RATE_LIMIT + INSTANCES
  const rows = []
  // Sequential, each with its own unknown user id: only the per-IP limit can answer 429.
  for (let i = 1; i <= attempts; i++) {
    const res = await request(`${lb.base}/api/authenticate`, { method: 'POST', json: { uid: `nobody-${runId}-${i}`, password: 'wrong-password' }, from })
    rows.push({ status: res.status, by: answeredBy(res, instances) })
  }
  const within = rows.slice(0, LOGIN_RATE_LIMIT)
  const beyond = rows.slice(LOGIN_RATE_LIMIT)
  const pass = within.every(r => r.status === 401) && beyond.every(r => r.status === 429) && new Set(beyond.map(r => r.by)).size === INSTANCES
  report('rate-limit', pass, `LOGIN_RATE_LIMIT=${LOGIN_RATE_LIMIT}, ${attempts} failed sign-ins from one client through nginx: ` +
    rows.map((r, i) => `#${i + 1} ${r.status}@${r.by}`).join(' ') + ` (expected 401 ×${LOGIN_RATE_LIMIT}, then 429 on every instance)`)
}

async function checkFailover (lb, instances, cookie) {
  const victim = instances[1]
  const survivors = instances.filter(i => i !== victim)
  const gets = []
  const signups = []
  let killAt = null
  let signupSeq = 0
  const t0 = performance.now()
  const deadline = t0 + LOAD_SECONDS * 1000

  async function client (c) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const from = `127.77.1.${c + 1}`
    try {
      for (let n = 0; performance.now() < deadline; n++) {
        const at = performance.now()
        if (n % SIGNUP_EVERY === SIGNUP_EVERY - 1) {
          // A new visitor for every sign-up (own address, own connection): the per-IP limit stays out of the way.
          const k = signupSeq++
          const uid = `ld-${runId}-${c}-${n}`
          try {
            const res = await signUp(lb.base, uid, `127.78.${Math.floor(k / 250)}.${(k % 250) + 1}`)
            signups.push({ uid, status: res.status, by: answeredBy(res, instances), at, upstreams: String(res.headers['x-upstream'] ?? '') })
          } catch (err) {
            signups.push({ uid, status: `error ${err.code ?? err.message}`, at })
          }
        } else {
          try {
            const res = await request(`${lb.base}/api/id`, { headers: { cookie }, from, agent })
            gets.push({ status: res.status, by: answeredBy(res, instances), at, retried: String(res.headers['x-upstream'] ?? '').includes(',') })
          } catch (err) {
            gets.push({ status: `error ${err.code ?? err.message}`, at })
          }
        }
      }
    } finally {
      agent.destroy()
    }
  }

  const killer = (async () => {
    await delay(KILL_AFTER_MS)
    killAt = performance.now()
    victim.proc.child.kill('SIGKILL')
    await victim.proc.exited
  })()
  await Promise.all([killer, ...Array.from({ length: LOAD_CLIENTS }, (_, c) => client(c))])

  // After the loop: the two others keep serving, through nginx and directly.
  const after = []
  for (let i = 0; i < 12; i++) after.push(await request(`${lb.base}/api/id`, { headers: { cookie }, from: '127.77.0.5' }))
  const afterBy = count(after.map(r => answeredBy(r, instances)))
  const afterOk = after.every(r => r.status === 200) && survivors.every(s => afterBy.has(s.label)) && !afterBy.has(victim.label)
  const direct = await Promise.all(survivors.map(s => request(`${s.base}/api/health`)))
  const directOk = direct.every(r => r.status === 200)

  // What the database holds for this loop's user ids.
  const db = new pg.Client({ connectionString: databaseUrl.toString() })
  await db.connect()
  let stored
  try {
    const { rows } = await db.query('SELECT uid, count(*)::int AS n FROM "User" WHERE starts_with(uid, $1) GROUP BY uid', [`ld-${runId}-`])
    stored = new Map(rows.map(r => [r.uid, r.n]))
  } finally {
    await db.end()
  }

  const getStatus = count(gets.map(g => g.status))
  const getsOk = gets.length > 0 && gets.every(g => g.status === 200)
  const postKill = gets.filter(g => g.at > killAt)
  const postKillBy = count(postKill.map(g => g.by))
  const retried = gets.filter(g => g.retried).length
  const signupStatus = count(signups.map(s => s.status))
  const created = signups.filter(s => s.status === 201)
  const missing = created.filter(s => stored.get(s.uid) !== 1)
  const duplicated = [...stored].filter(([, n]) => n > 1)
  const failed502 = signups.filter(s => s.status === 502)
  const existing502 = failed502.filter(s => stored.has(s.uid)).length
  const unexpected = signups.filter(s => s.status !== 201 && s.status !== 502)
  const strays = [...stored.keys()].filter(uid => !signups.some(s => s.uid === uid))
  const pass = getsOk && !postKillBy.has(victim.label) && created.length > 0 && missing.length === 0 && duplicated.length === 0 && unexpected.length === 0 &&
    strays.length === 0 && afterOk && directOk

  report('failover', pass, [
    `${LOAD_CLIENTS} clients for ${LOAD_SECONDS} s through nginx, instance ${victim.label} SIGKILLed at ${KILL_AFTER_MS / 1000} s:`,
    `GET /api/id ${gets.length} (${fmtCounts(getStatus)}; ${retried} retried by nginx on another instance; after the kill answered by ${fmtCounts(postKillBy) || 'none'}),`,
    `sign-ups ${signups.length} (${fmtCounts(signupStatus)}): ${created.length - missing.length}/${created.length} of the 201s stored once, ${duplicated.length} stored twice, ` +
      `${failed502.length} 502s (in flight on the instance that died; ${existing502} of them stored all the same: written before the reply was lost), ${strays.length} stored that were never sent;`,
    `afterwards 12 GETs: ${fmtCounts(count(after.map(r => r.status)))} by ${fmtCounts(afterBy)}; survivors' /api/health ${direct.map(r => r.status).join(', ')}`
  ].join('\n                 '))
  if (missing.length > 0) log(`                 missing or miscounted 201s: ${missing.slice(0, 5).map(s => `${s.uid} (stored ${stored.get(s.uid) ?? 0})`).join(', ')}`)
  if (unexpected.length > 0) log(`                 unexpected sign-up answers: ${unexpected.slice(0, 5).map(s => `${s.uid} → ${s.status}${s.upstreams ? ` via ${s.upstreams}` : ''}`).join(', ')}`)
}

/* ------------------------------------------------------------------------------------------ */
/* --bench: GET /profile through nginx, 1 vs 3 instances.                                     */
/* ------------------------------------------------------------------------------------------ */

function percentile (sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

async function autocannonRun (autocannon, opts) {
  const times = []
  const res = await new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => err ? reject(err) : resolve(result))
    instance.on('response', (_client, _status, _bytes, responseTime) => times.push(responseTime))
  })
  times.sort((a, b) => a - b)
  return {
    reqPerSec: res.requests.total / res.duration,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    non2xx: res.non2xx,
    errors: res.errors + res.timeouts
  }
}

async function bench (nginx, instances, cookie) {
  const { default: autocannon } = await import('autocannon')
  const durationS = Number(flags.duration ?? 10)
  const connections = Number(flags.connections ?? 50)
  const lb1 = await startNginx(nginx, 'nginx-1', [instances[0].upstream])
  const lb3 = await startNginx(nginx, 'nginx-3', instances.map(i => i.upstream))
  log(`bench: GET /profile (signed in) through nginx, ${connections} connections, ${durationS} s each after a 2 s warm-up; autocannon in this process`)
  log(`       this machine has ${availableParallelism()} cores: nginx, the load generator and the instances share them; load average ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
  const rows = []
  for (const [label, lb] of [['1 instance', lb1], [`${INSTANCES} instances`, lb3]]) {
    const opts = { url: `${lb.base}/profile`, headers: { cookie }, connections, timeout: 10 }
    await autocannonRun(autocannon, { ...opts, duration: 2 })
    const r = await autocannonRun(autocannon, { ...opts, duration: durationS })
    rows.push({ label, ...r })
    log(`  ${label.padEnd(12)} ${r.reqPerSec.toFixed(0).padStart(6)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   non-2xx ${r.non2xx}   errors ${r.errors}`)
  }
  log(`  ratio ${INSTANCES}/1: ${(rows[1].reqPerSec / rows[0].reqPerSec).toFixed(2)}×; load average now ${loadavg().map(x => x.toFixed(2)).join(' ')} (above ~1, other work shares the cores: repeat later)`)
  const pass = rows.every(r => r.non2xx === 0 && r.errors === 0)
  report('bench', pass, pass ? 'every response 2xx' : 'some responses were not 2xx or failed')
}

/* ------------------------------------------------------------------------------------------ */
/* Main and clean-up                                                                          */
/* ------------------------------------------------------------------------------------------ */

let databaseCreated = false
let cleaning = null

function cleanup () {
  cleaning ??= (async () => {
    await Promise.all([...processes].map(p => stop(p)))
    const notes = []
    if (databaseCreated) {
      try {
        await onPostgresServer(pgServer, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
        notes.push(`dropped database ${database}`)
      } catch (err) {
        notes.push(`could not drop database ${database} (${err.message}); drop it by hand`)
      }
    }
    try {
      notes.push(`deleted ${await dropRedisKeys()} Redis key(s) ${redisPrefix}*`)
    } catch (err) {
      notes.push(`could not delete Redis keys ${redisPrefix}* (${err.message})`)
    }
    if (tmp !== null) {
      if (flags.keep) notes.push(`kept ${tmp}`)
      else rmSync(tmp, { recursive: true, force: true })
    }
    log(`test:cluster: ${notes.join('; ')}`)
  })()
  return cleaning
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    interrupted = true
    log(`\ntest:cluster: ${signal}; cleaning up`)
    cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  })
}

async function main () {
  const nginx = ensureNginx()
  const version = spawnSync(nginx, ['-v'], { encoding: 'utf8' }).stderr.trim()
  log(`test:cluster: ${version.replace('nginx version: ', '')}, PostgreSQL ${pgServer.host}, Redis ${new URL(redisUrl).host} (prefix ${redisPrefix}), ${availableParallelism()} cores`)

  if (flags['skip-build']) {
    if (!existsSync(join(root, 'dist', 'server.js'))) throw new Error('--skip-build: dist/server.js does not exist')
    step('build skipped (--skip-build)')
  } else {
    step('npm run build')
    if (spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed')
  }

  try {
    const redis = await redisClient()
    await redis.ping()
    redis.disconnect()
  } catch (err) {
    throw new Error(`Redis does not answer at ${redisUrl} (${err.message}). Start it, or set TEST_REDIS_URL.`)
  }
  try {
    await onPostgresServer(pgServer, `CREATE DATABASE "${database}"`)
    databaseCreated = true
  } catch (err) {
    throw new Error(`cannot create a database on ${pgServer.host} (${err.message}). Is PostgreSQL running? Set TEST_PG_URL to use another server.`)
  }
  tmp = mkdtempSync(join(tmpdir(), 'fastify-portfolio-cluster-'))

  // The first instance applies the migrations; the others start on a migrated database.
  step(`database ${database}; instance A migrates it, then B and C start`)
  const labels = ['A', 'B', 'C'].slice(0, INSTANCES)
  const first = await startInstance(labels[0])
  const instances = [first, ...await Promise.all(labels.slice(1).map(startInstance))]
  const lb = await startNginx(nginx, 'nginx', instances.map(i => i.upstream))
  step(`instances ${instances.map(i => `${i.label} :${i.port}`).join(', ')}; nginx :${lb.port} (${elapsed()})`)

  const uid = `alice-${runId}`
  const created = await signUp(lb.base, uid, '127.77.0.2')
  if (created.status !== 201) throw new Error(`POST /api/users (sign-up) answered ${created.status}: ${created.body.slice(0, 200)}`)
  const cookie = await signIn(lb.base, uid, '127.77.0.2')

  if (flags.bench) {
    await runCheck('bench', () => bench(nginx, instances, cookie))
    return
  }
  await runCheck('balance', () => checkBalance(lb, instances, uid, cookie))
  await runCheck('cookie', () => checkCookie(instances, uid, cookie))
  await runCheck('health', () => checkHealth(instances))
  await runCheck('revocation', () => checkRevocation(lb, instances, uid))
  await runCheck('rate-limit', () => checkRateLimit(lb, instances))
  await runCheck('failover', () => checkFailover(lb, instances, cookie))
}

let code = 1
try {
  await main()
  const failed = results.filter(r => !r.pass).length
  code = results.length > 0 && failed === 0 ? 0 : 1
  log(`test:cluster: ${results.length - failed} passed, ${failed} failed`)
} catch (err) {
  if (!interrupted) console.error(`test:cluster: ${err.message}`)
  if (results.length > 0) log(`test:cluster: ${results.filter(r => r.pass).length} passed, ${results.filter(r => !r.pass).length + 1} failed`)
} finally {
  await cleanup()
  log(`test:cluster: ${elapsed()}; exit ${code}`)
}
process.exit(code)
