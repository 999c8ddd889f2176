import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Eta, EtaFileResolutionError } from 'eta'
import { layoutDataWithoutSpread, partialsGetTheirOwnData } from '../../src/plugins/external/view.ts'
import { statusFor } from '../../src/lib/error-handler.ts'
import { build } from '../helper.ts'

test('template paths are resolved once, and a path outside views/ is refused every time', async (t) => {
  const app = await build(t)
  const first = await app.view('pages/home', { currentUser: null, flash: null, currentPath: '/' })
  const again = await app.view('pages/home', { currentUser: null, flash: null, currentPath: '/' })
  assert.equal(again, first)
  for (let i = 0; i < 2; i++) {
    await assert.rejects(app.view('../package', {}), EtaFileResolutionError)
    await assert.rejects(app.view('/../../etc/passwd', {}), EtaFileResolutionError)
  }
  // Such an error is a missing page, not a server error.
  const err = await app.view('../package', {}).catch((e: Error) => e)
  assert.equal(statusFor(err as Error), 404)
})

test('a partial gets exactly the data it is passed; with none, the caller\'s own data; layouts get everything', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'views-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'partials'))
  mkdirSync(join(dir, 'layouts'))
  writeFileSync(join(dir, 'partials/show.eta'), '[<%= typeof it.secret %>:<%= it.a ?? "-" %>]')
  writeFileSync(join(dir, 'layouts/main.eta'), '<%= it.title %>|<%= it.secret %>|<%~ it.body %>')
  writeFileSync(join(dir, 'page.eta'), "<% layout('/layouts/main', { title: 'T' }) %><%~ include('/partials/show', { a: 1 }) %><%~ include('/partials/show') %>")
  const eta = new Eta({ views: dir, plugins: [partialsGetTheirOwnData] })
  assert.equal(eta.render('page', { secret: 's' }), 'T|s|[undefined:1][string:-]')
  // Eta's default, for comparison: the partial also saw the page's data.
  assert.equal(new Eta({ views: dir }).render('page', { secret: 's' }), 'T|s|[string:1][string:-]')
})

test('if Eta generates a different include(), templates fail to compile instead of silently copying again', () => {
  assert.throws(() => partialsGetTheirOwnData.processFnString('let include = (t, d) => this.render(t, {...d}, options);'), /no longer generates/)
})

test("a layout gets the page's data, the page as body and its own arguments, with Eta's precedence", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'views-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'layouts'))
  writeFileSync(join(dir, 'layouts/main.eta'), '<%= it.title %>|<%= it.secret %>|<%= it.shared %>|<%~ it.body %>|<%= typeof it.__blocks %>')
  // The layout's argument `shared` wins over the page's own `shared`, as in Eta.
  writeFileSync(join(dir, 'page.eta'), "<% layout('/layouts/main', { title: 'T', shared: 'layout' }) %><b><%= it.secret %></b>")
  const data = { secret: 's', shared: 'page' }
  const expected = new Eta({ views: dir }).render('page', data)
  assert.equal(expected, 'T|s|layout|<b>s</b>|object')
  const eta = new Eta({ views: dir, plugins: [layoutDataWithoutSpread] })
  assert.equal(eta.render('page', data), expected)
  assert.doesNotMatch(String(eta.compile("<% layout('/layouts/main') %>x")), /\{\.\.\.it, body/, 'no spread literal left')
})

test('if Eta generates a different layout call, templates fail to compile', () => {
  assert.throws(() => layoutDataWithoutSpread.processFnString('__eta.res = include(__eta.layout, {...it});'), /no longer generates/)
})
