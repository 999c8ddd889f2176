/**
 * Two servers measured in pairs (docs/decisions/0026): both already running, pinned to the same
 * CPU; each is loaded by its own autocannon process on the other CPU, at the same time, and each
 * round compares their requests per CPU-second. Both see the same machine at the same moment, so
 * the ratio holds still when the machine's speed drifts, and neither figure is bounded by a load
 * generator (two servers share one CPU: each needs half the requests a lone server would).
 */
import { cpuSeconds, startLoadGenerator } from './proc.mjs'

/**
 * @param {object} o
 * @param {Array<{ name: string, pid: number, url: string, headers?: object }>} o.servers  two servers; the ratio is the second's ÷ the first's
 * @param {string} o.loadgenScript  bench/lib/loadgen.mjs
 * @param {number} o.cpu  the CPU the load generators are pinned to
 * @param {(round: { round: number, perCpu: number[], ratio: number }) => void} [o.onRound]
 * @returns {Promise<{ rounds: Array<{ round: number, perCpu: number[], ratio: number }>, median: number, min: number, max: number }>}
 */
export async function pairedRounds ({ servers, loadgenScript, cpu, cwd, connections, warmupS, durationS, rounds, onRound = () => {} }) {
  if (servers.length !== 2) throw new Error('pairedRounds: two servers')
  const loadgens = servers.map(() => startLoadGenerator({ script: loadgenScript, cpu, cwd }))
  try {
    const load = seconds => Promise.all(servers.map((server, i) => loadgens[i].call({
      type: 'run',
      opts: { title: server.name, url: server.url, headers: server.headers ?? {}, connections, duration: seconds }
    })))
    await load(warmupS)
    const measured = []
    for (let round = 1; round <= rounds; round++) {
      const before = servers.map(s => cpuSeconds(s.pid))
      const results = await load(durationS)
      for (const r of results) {
        if (r.errors + r.timeouts + r.non2xx > 0) throw new Error(`${r.title}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx responses`)
      }
      const perCpu = servers.map((s, i) => results[i].requests / (cpuSeconds(s.pid) - before[i]))
      const entry = { round, perCpu, ratio: perCpu[1] / perCpu[0] }
      measured.push(entry)
      onRound(entry)
    }
    const ratios = measured.map(r => r.ratio).sort((a, b) => a - b)
    const m = Math.floor(ratios.length / 2)
    return {
      rounds: measured,
      median: ratios.length % 2 === 1 ? ratios[m] : (ratios[m - 1] + ratios[m]) / 2,
      min: ratios[0],
      max: ratios.at(-1)
    }
  } finally {
    await Promise.all(loadgens.map(l => l.close()))
  }
}
