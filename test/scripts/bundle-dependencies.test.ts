import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { Type } from 'typebox'
// @ts-expect-error plain JavaScript build script (no types)
import { bundleDependencies, pointImportsAt } from '../../scripts/bundle-dependencies.mjs'

test('imports of the package itself are pointed at the bundle; other packages and names are left alone', () => {
  const source = [
    "import { Type } from 'typebox';",
    'import { Type as T2 } from "typebox";',
    "export { Type as T3 } from 'typebox';",
    "import 'typebox';",
    "const lazy = () => import( 'typebox');",
    "import { x } from 'typebox-extra';",
    "import { y } from '@scope/typebox';",
    "const text = 'typebox';"
  ].join('\n')
  const { text, count } = pointImportsAt(source, 'typebox', '../vendor/typebox.mjs')
  assert.equal(count, 5)
  assert.deepEqual(text.split('\n'), [
    "import { Type } from '../vendor/typebox.mjs';",
    'import { Type as T2 } from "../vendor/typebox.mjs";',
    "export { Type as T3 } from '../vendor/typebox.mjs';",
    "import '../vendor/typebox.mjs';",
    "const lazy = () => import( '../vendor/typebox.mjs');",
    "import { x } from 'typebox-extra';",
    "import { y } from '@scope/typebox';",
    "const text = 'typebox';"
  ])
})

test('a subpath import of a bundled package stops the build (it would load a second copy)', () => {
  assert.throws(
    () => pointImportsAt("import { Value } from 'typebox/value';", 'typebox', './vendor/typebox.mjs', 'dist/x.js'),
    /dist\/x\.js imports typebox\/value/
  )
})

test('compiled files load TypeBox from the bundle and build the same schemas as the installed package', async (t) => {
  const dist = mkdtempSync(join(tmpdir(), 'bundle-dependencies-'))
  t.after(() => rmSync(dist, { recursive: true, force: true }))
  mkdirSync(join(dist, 'routes', 'api'), { recursive: true })
  const schemaModule = "import { Type } from 'typebox';\nexport const Body = Type.Object({ uid: Type.String({ minLength: 1 }), dob: Type.Optional(Type.String({ format: 'date' })) }, { additionalProperties: false });\n"
  writeFileSync(join(dist, 'schemas.js'), schemaModule)
  writeFileSync(join(dist, 'routes', 'api', 'index.js'), schemaModule)

  const [summary] = await bundleDependencies(dist)
  assert.equal(summary.name, 'typebox')
  assert.equal(summary.imports, 2)
  assert.match(readFileSync(join(dist, 'schemas.js'), 'utf8'), /from '\.\/vendor\/typebox\.mjs'/)
  assert.match(readFileSync(join(dist, 'routes', 'api', 'index.js'), 'utf8'), /from '\.\.\/\.\.\/vendor\/typebox\.mjs'/)

  const installed = Type.Object({ uid: Type.String({ minLength: 1 }), dob: Type.Optional(Type.String({ format: 'date' })) }, { additionalProperties: false })
  for (const file of ['schemas.js', join('routes', 'api', 'index.js')]) {
    const { Body } = await import(pathToFileURL(join(dist, file)).href)
    // JSON text and TypeBox's own markers (non-enumerable `~kind`, `~optional`) alike.
    assert.deepEqual(JSON.parse(JSON.stringify(Body)), JSON.parse(JSON.stringify(installed)))
    assert.deepEqual(Object.getOwnPropertyNames(Body.properties.dob).sort(), Object.getOwnPropertyNames(installed.properties.dob).sort())
  }
})
