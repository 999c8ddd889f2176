/**
 * The load generator: a child process of bench/run.mjs (so it can be pinned to its own core
 * with taskset), driving autocannon's programmatic API on request over the IPC channel.
 *
 * Messages in:  { id, type: 'run', opts }                   one autocannon run
 *               { id, type: 'parallel', runs: [{ opts, delayMs }] }   several at once (login storm)
 * Messages out: { id, ok: true, result } | { id, ok: false, error }
 *
 * Latency percentiles are computed here from every response's own time (sub-millisecond,
 * all status codes), not from autocannon's histogram (whole milliseconds, 2xx only); the
 * autocannon figures are kept alongside.
 */
import { setTimeout as delay } from 'node:timers/promises'
import autocannon from 'autocannon'

function percentile (sorted, p) {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

const round = (x, digits = 3) => x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits

function runOne (opts) {
  return new Promise((resolve, reject) => {
    let times = new Float64Array(1 << 16)
    let n = 0
    const started = process.hrtime.bigint()
    const instance = autocannon({ timeout: 10, ...opts }, (err, res) => {
      if (err) return reject(err)
      const elapsedS = Number(process.hrtime.bigint() - started) / 1e9
      const sorted = times.subarray(0, n).sort()
      const durationS = res.duration ?? elapsedS
      resolve({
        title: opts.title,
        url: opts.url,
        method: opts.method ?? 'GET',
        connections: opts.connections,
        durationS: round(durationS),
        requests: res.requests.total,
        reqPerSec: round(res.requests.total / durationS, 1),
        autocannonReqPerSecAvg: res.requests.average,
        latencyMs: {
          p50: round(percentile(sorted, 50)),
          p90: round(percentile(sorted, 90)),
          p99: round(percentile(sorted, 99)),
          max: round(percentile(sorted, 100)),
          mean: round(n === 0 ? null : sorted.reduce((a, b) => a + b, 0) / n)
        },
        autocannonLatencyMs: { p50: res.latency.p50, p99: res.latency.p99, max: res.latency.max },
        bytesPerResponse: res['2xx'] > 0 ? Math.round(res.throughput.total / res['2xx']) : null,
        errors: res.errors,
        timeouts: res.timeouts,
        non2xx: res.non2xx,
        statusCodes: Object.fromEntries(Object.entries(res.statusCodeStats ?? {}).map(([code, v]) => [code, v.count]))
      })
    })
    instance.on('response', (_client, _statusCode, _bytes, responseTime) => {
      if (n === times.length) {
        const bigger = new Float64Array(times.length * 2)
        bigger.set(times)
        times = bigger
      }
      times[n++] = responseTime
    })
  })
}

process.on('message', async (msg) => {
  try {
    let result
    if (msg.type === 'run') {
      result = await runOne(msg.opts)
    } else if (msg.type === 'parallel') {
      result = await Promise.all(msg.runs.map(async ({ opts, delayMs = 0 }) => {
        await delay(delayMs)
        return runOne(opts)
      }))
    } else if (msg.type === 'exit') {
      process.disconnect()
      return
    } else {
      throw new Error(`unknown message type ${msg.type}`)
    }
    process.send({ id: msg.id, ok: true, result })
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: err?.stack ?? String(err) })
  }
})
