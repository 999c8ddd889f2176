/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, and self and
 * inclusive time per package (node_modules/<pkg>, the app's dist/, node: internals, V8).
 */
import { readFileSync } from 'node:fs'

function shortUrl (url, root) {
  let u = url.replace(/^file:\/\//, '')
  if (root !== undefined && u.startsWith(root)) u = u.slice(root.length).replace(/^\//, '')
  return u
}

/** Which bucket a frame belongs to: an npm package, the app, Node's internals, or V8 itself. */
function packageOf (frame, root) {
  const url = frame.url
  if (url === '') {
    if (frame.functionName.startsWith('(')) return frame.functionName // (garbage collector), (program), (idle)
    return '(native)'
  }
  if (url.startsWith('node:')) return 'node: internals'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m !== null) {
    // The generated Prisma client lives inside the app's dist/ tree; its runtime is in node_modules.
    return m[1]
  }
  const short = shortUrl(url, root)
  if (short.startsWith('dist/generated/')) return 'app: dist/generated (Prisma client)'
  if (short.startsWith('dist/')) return 'app: dist/' + (short.split('/')[1] ?? '')
  return short.split('/')[0]
}

/**
 * `skipMs` / `untilMs`: only the samples between these times from the profile's start (leave
 * out start-up for the steady state; keep only start-up for the cold start).
 */
export function summariseCpuProfile (file, { root, top = 25, skipMs = 0, untilMs = Infinity } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map()
  const parent = new Map()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const selfUs = new Map()
  const { samples, timeDeltas } = profile
  let t = 0
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i]
    if (t < skipMs * 1000 || t > untilMs * 1000) continue
    // timeDeltas[i + 1] is the time until the next sample, i.e. spent in sample i.
    const dt = timeDeltas[i + 1] ?? 0
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt))
  }
  let totalUs = 0
  for (const us of selfUs.values()) totalUs += us

  const functions = new Map()
  const pkgSelf = new Map()
  const pkgIncl = new Map()
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    const f = node.callFrame
    const name = f.functionName === '' ? '(anonymous)' : f.functionName
    const where = f.url === '' ? '' : `${shortUrl(f.url, root)}:${f.lineNumber + 1}`
    const key = `${name} ${where}`
    const entry = functions.get(key) ?? { function: name, location: where, package: packageOf(f, root), selfMs: 0 }
    entry.selfMs += us / 1000
    functions.set(key, entry)
    const pkg = packageOf(f, root)
    pkgSelf.set(pkg, (pkgSelf.get(pkg) ?? 0) + us / 1000)
    // Inclusive: every package on this sample's stack, once.
    const seen = new Set()
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur).callFrame
      if (frame.functionName === '(root)') continue
      seen.add(packageOf(frame, root))
    }
    for (const p of seen) pkgIncl.set(p, (pkgIncl.get(p) ?? 0) + us / 1000)
  }
  const totalMs = totalUs / 1000
  const pct = ms => Math.round((ms / totalMs) * 1000) / 10
  const r1 = ms => Math.round(ms * 10) / 10
  const idleMs = functions.get('(idle) ')?.selfMs ?? 0
  return {
    file,
    skippedMs: skipMs,
    sampledMs: r1(totalMs),
    idleMs: r1(idleMs),
    topFunctionsBySelfTime: [...functions.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)
      .map(f => ({ ...f, selfMs: r1(f.selfMs), selfPct: pct(f.selfMs) })),
    packagesBySelfTime: [...pkgSelf].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([pkg, ms]) => ({ package: pkg, selfMs: r1(ms), selfPct: pct(ms) })),
    packagesByInclusiveTime: [...pkgIncl].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([pkg, ms]) => ({ package: pkg, inclusiveMs: r1(ms), inclusivePct: pct(ms) }))
  }
}
