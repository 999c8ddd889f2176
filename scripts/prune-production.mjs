// Used by the Dockerfile after `npm prune --omit=dev`, which keeps "devOptional" packages:
// @prisma/client lists `prisma` and `typescript` as optional peers, so the Prisma CLI and its
// ~150 MB of dependencies survive it. This keeps exactly what production code can reach
// (dependencies, optionalDependencies and required peers, resolved through node_modules as Node
// does, from package-lock.json) and deletes the rest.
import { rmSync } from 'node:fs'
import { readFileSync } from 'node:fs'

const packages = JSON.parse(readFileSync('package-lock.json', 'utf8')).packages

/** Where Node would find `name` when required from the package at `from`. */
function locate (from, name) {
  for (let dir = from; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
    const path = (dir === '' ? '' : dir + '/') + 'node_modules/' + name
    if (packages[path]) return path
    if (dir === '') return null
  }
}

const keep = new Set([''])
const queue = ['']
while (queue.length > 0) {
  const at = queue.pop()
  const pkg = packages[at]
  const peers = Object.keys(pkg.peerDependencies ?? {}).filter(name => !pkg.peerDependenciesMeta?.[name]?.optional)
  for (const name of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}), ...peers]) {
    const path = locate(at, name)
    if (path !== null && !keep.has(path)) {
      keep.add(path)
      queue.push(path)
    }
  }
}

const drop = Object.keys(packages).filter(path => !keep.has(path))
for (const path of drop) rmSync(path, { recursive: true, force: true })
console.log(`kept ${keep.size - 1} packages, removed ${drop.length} not reachable from dependencies`)
