#!/usr/bin/env node
/**
 * The second half of `npm run build`, after tsc: a dependency made of hundreds of small ES
 * modules is bundled into one file under dist/vendor/, and the compiled files' imports of it are
 * pointed there. Node 20 resolves, reads and compiles every module separately at start; TypeBox
 * 1.x is about 370 of them, 150–250 ms of a cold start on this machine (docs/decisions/0024).
 *
 * Only dist/ changes: the sources, the tests (run from src/ by tsx) and type checking use the
 * package as installed, and the bundle is made from that same installed version at every build.
 * A compiled file that imports a subpath of a bundled package (`typebox/value`) stops the build:
 * it would load a second copy beside the bundle.
 *
 *   node scripts/bundle-dependencies.mjs [dist]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/** Packages bundled, by the name the sources import them with. */
export const BUNDLED = ['typebox']

const VENDOR = 'vendor'

function * compiledFiles (dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      yield * compiledFiles(path)
    } else if (entry.name.endsWith('.js')) {
      yield path
    }
  }
}

/** `from 'pkg'`, `from 'pkg/sub'`, `import('pkg')`, `import 'pkg'`, with either quote. */
function specifierPattern (name) {
  const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  return new RegExp(`(\\bfrom\\s*|\\bimport\\s*\\(\\s*|\\bimport\\s+)(['"])(${escaped})(/[^'"]*)?\\2`, 'g')
}

/**
 * Rewrites the imports of `name` in one compiled file's text to `target` (a relative specifier).
 * Returns the new text and how many imports were rewritten; throws on a subpath import.
 */
export function pointImportsAt (text, name, target, file = 'a compiled file') {
  let count = 0
  const out = text.replace(specifierPattern(name), (_match, lead, quote, _pkg, subpath) => {
    if (subpath !== undefined) {
      throw new Error(`${file} imports ${name}${subpath}: only '${name}' itself is bundled (scripts/bundle-dependencies.mjs); import from '${name}'`)
    }
    count++
    return `${lead}${quote}${target}${quote}`
  })
  return { text: out, count }
}

/** The version of the package `name` that `file` belongs to (its exports may hide package.json). */
function packageVersion (file, name) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
      if (pkg.name === name) return pkg.version
    } catch (err) {
      if (err.code !== 'ENOENT') throw err
    }
  }
  throw new Error(`no package.json of ${name} above ${file}`)
}

/** Bundles every package of BUNDLED into `<dist>/vendor/<name>.mjs` and points dist's imports there. */
export async function bundleDependencies (dist, { root = process.cwd() } = {}) {
  const vendorDir = join(dist, VENDOR)
  const files = [...compiledFiles(dist)].filter(path => !path.startsWith(vendorDir + sep))
  const summary = []
  for (const name of BUNDLED) {
    const outfile = join(vendorDir, `${name.replaceAll('/', '__')}.mjs`)
    // The entry Node itself loads for `import '<name>'` in this project.
    const entry = fileURLToPath(import.meta.resolve(name))
    const version = packageVersion(entry, name)
    await build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile,
      legalComments: 'inline',
      banner: { js: `// ${name} ${version}, bundled by scripts/bundle-dependencies.mjs from node_modules/${name}` },
      logLevel: 'warning'
    })
    let rewritten = 0
    for (const file of files) {
      let target = relative(dirname(file), outfile).split(sep).join('/')
      if (!target.startsWith('.')) target = `./${target}`
      const before = readFileSync(file, 'utf8')
      const { text, count } = pointImportsAt(before, name, target, relative(root, file))
      if (count > 0) {
        writeFileSync(file, text)
        rewritten += count
      }
    }
    summary.push({ name, version, outfile: relative(root, outfile), imports: rewritten })
  }
  return summary
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
  const dist = resolve(process.argv[2] ?? join(root, 'dist'))
  for (const { name, version, outfile, imports } of await bundleDependencies(dist, { root })) {
    console.log(`bundled ${name} ${version} into ${outfile} (${imports} imports in dist/ point there)`)
  }
}
