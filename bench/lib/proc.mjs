/**
 * Processes for the bench: CPU pinning with taskset, servers started and stopped one at a
 * time, a load-generator child spoken to over IPC, plain HTTP requests, RSS from /proc.
 */
import { execFileSync, spawn } from 'node:child_process'
import { openSync, readFileSync, closeSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { freePort } from '../../scripts/lib/system.mjs'

/** Expands a CPU list as taskset prints it ("0-3,6") into numbers. */
function parseCpuList (list) {
  const cpus = []
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map(Number)
    for (let c = a; c <= (b ?? a); c++) cpus.push(c)
  }
  return cpus
}

/**
 * Where server and load generator run: two distinct CPUs from this process's allowed set, or
 * `{ enabled: false, reason }` when taskset is missing or fewer than two CPUs are available.
 */
export function detectPinning ({ disabled = false } = {}) {
  if (disabled) return { enabled: false, reason: 'pinning turned off (--no-pin)' }
  let allowed
  try {
    const out = execFileSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    allowed = parseCpuList(out.split(':').pop())
    execFileSync('taskset', ['-c', String(allowed[0]), 'true'], { stdio: 'ignore' })
  } catch {
    return { enabled: false, reason: 'taskset is not available (Debian: apt-get install util-linux); server and load generator share all CPUs' }
  }
  if (allowed.length < 2 || availableParallelism() < 2) {
    return { enabled: false, reason: `only ${allowed.length} CPU available; server and load generator share it` }
  }
  return { enabled: true, server: allowed[0], loadgen: allowed[1], allowed }
}

/** Pins this process (all its threads) to a CPU; the runner sits with the load generator. */
export function pinSelf (cpu) {
  try {
    execFileSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' })
  } catch {}
}

/** The command line for a node script, behind `taskset -c <cpu>` when pinning. */
function nodeCommand (cpu, nodeArgs) {
  return cpu === undefined
    ? [process.execPath, nodeArgs]
    : ['taskset', ['-c', String(cpu), process.execPath, ...nodeArgs]]
}

/**
 * One HTTP request, no keep-alive, redirects not followed. Returns the status, headers, the
 * body exactly as received (not decoded) and the size of the response head.
 */
export function request (url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { connection: 'close', ...headers }, agent: false }, (res) => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => {
        const head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n` +
          res.rawHeaders.reduce((s, v, i) => s + (i % 2 === 0 ? `${v}: ` : `${v}\r\n`), '') + '\r\n'
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), headBytes: Buffer.byteLength(head) })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(15_000, () => req.destroy(new Error(`timeout: ${method} ${url}`)))
    if (body !== undefined) req.write(body)
    req.end()
  })
}

/**
 * Resident set size of a process and its peak, in MB (10^6 bytes), from VmRSS and VmHWM in
 * /proc/<pid>/status (which counts in KiB).
 */
export function readRss (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const mb = name => Math.round(Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024 / 1e5) / 10
  return { rssMB: mb('VmRSS'), peakMB: mb('VmHWM') }
}

/** CPU time (user + system, all threads) a process has used so far, in seconds. */
export function cpuSeconds (pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields 14 and 15 of stat (utime, stime), counted after the comm field; clock ticks of 1/100 s.
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return null
  }
}

/** Busy and total clock ticks per CPU so far, from /proc/stat ("all" for the machine). */
export function cpuTimes () {
  const times = new Map()
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line)
    if (m === null) continue
    // user nice system idle iowait irq softirq steal ...
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].split(/\s+/).map(Number)
    const busy = user + nice + system + irq + softirq + steal
    times.set(m[1] === '' ? 'all' : Number(m[1]), { busy, total: busy + idle + iowait })
  }
  return times
}

/** How busy a CPU was between two cpuTimes() snapshots, in % of that CPU (of all CPUs for "all"). */
export function cpuBusyPct (before, after, cpu = 'all') {
  const a = before.get(cpu)
  const b = after.get(cpu)
  if (a === undefined || b === undefined || b.total === a.total) return null
  return Math.round(((b.busy - a.busy) / (b.total - a.total)) * 100)
}

const running = new Set()

/** Stops every server still running (on exit or failure). */
export function killAll () {
  for (const child of running) {
    try { child.kill('SIGKILL') } catch {}
  }
}

/**
 * Starts a node server script on a free loopback port, pinned when asked, output to a log file
 * in `logDir`, and waits until `readyPath` answers `readyStatus`. `startedAt` is the
 * performance.now() just before the spawn (for the cold-start figure).
 */
export async function startServer ({ name, script, env, cwd, logDir, cpu, nodeFlags = [], readyPath = '/', readyStatus = 200, timeoutMs = 60_000, pollMs = 20 }) {
  const port = await freePort()
  const logFile = join(logDir, `${name}.log`)
  const fd = openSync(logFile, 'a')
  const [cmd, args] = nodeCommand(cpu, [...nodeFlags, script])
  const startedAt = performance.now()
  const child = spawn(cmd, args, {
    cwd,
    env: { ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', fd, fd]
  })
  closeSync(fd)
  running.add(child)
  let exited = null
  const exitPromise = new Promise(resolve => child.once('exit', (code, signal) => {
    exited = { code, signal }
    running.delete(child)
    resolve(exited)
  }))
  const base = `http://127.0.0.1:${port}`
  const deadline = startedAt + timeoutMs
  let readyAt = null
  while (readyAt === null) {
    if (exited !== null) {
      throw new Error(`${name} exited before it was ready (code ${exited.code}, signal ${exited.signal}); log:\n${tail(logFile)}`)
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${name} was not ready after ${timeoutMs} ms; log:\n${tail(logFile)}`)
    }
    try {
      const res = await request(base + readyPath)
      if (res.status === readyStatus) readyAt = performance.now()
    } catch {}
    if (readyAt === null) await delay(pollMs)
  }
  return {
    name,
    pid: child.pid, // taskset execs node: same pid
    port,
    base,
    logFile,
    readyMs: readyAt - startedAt,
    async stop () {
      if (exited === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exitPromise
        clearTimeout(timer)
      }
      return exited
    }
  }
}

export function tail (file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** The autocannon child process, pinned when asked; `call(message)` returns its answer. */
export function startLoadGenerator ({ script, cpu, cwd }) {
  const [cmd, args] = nodeCommand(cpu, [script])
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  running.add(child)
  child.once('exit', () => running.delete(child))
  const pending = new Map()
  let nextId = 1
  child.on('message', (msg) => {
    const p = pending.get(msg.id)
    if (p === undefined) return
    pending.delete(msg.id)
    if (msg.ok) p.resolve(msg.result)
    else p.reject(new Error(`load generator: ${msg.error}`))
  })
  child.once('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`load generator exited (code ${code})`))
    pending.clear()
  })
  return {
    pid: child.pid,
    call (message) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject })
        child.send({ ...message, id })
      })
    },
    async close () {
      if (child.exitCode !== null) return
      const done = new Promise(resolve => child.once('exit', resolve))
      child.send({ type: 'exit' })
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await done
      clearTimeout(timer)
    }
  }
}
