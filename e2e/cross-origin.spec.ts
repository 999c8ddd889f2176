import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { APIRequestContext, Page, Response } from '@playwright/test'
import { ADMIN_STATE, expect, test, type TestUser } from './fixtures.ts'

/**
 * SECURITY.md S17 (CSRF on state-changing forms), S18 (login CSRF) and S20 (framing) in a real
 * browser with a second site: a tiny "evil.test" server on http://localhost:<port>, while the
 * app runs on http://127.0.0.1:<E2E port> (another host, so another site). Its pages
 * auto-submit forms to the app and frame the sign-in page. The victim is an Admin signed in
 * through the real form, and each forged form carries everything but a valid CSRF token (the
 * victim's real current password included), so only the app's CSRF defences stand in the way.
 */

/** Auto-submitting pages and frames, as another site would serve them. */
class EvilSite {
  private readonly pages = new Map<string, string>()
  private server!: Server
  origin = ''

  async start (): Promise<void> {
    this.server = createServer((request, response) => {
      const html = this.pages.get(request.url ?? '')
      response.writeHead(html === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' })
      response.end(html ?? 'not found')
    })
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.origin = `http://localhost:${(this.server.address() as AddressInfo).port}`
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  /** Serves `html` at a fresh path and returns its URL. */
  serve (html: string): string {
    const path = `/page-${this.pages.size + 1}`
    this.pages.set(path, `<!doctype html><html><head><title>evil.test</title></head><body>${html}</body></html>`)
    return this.origin + path
  }
}

const escapeHtml = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')

/** A form that posts `fields` (repeated names allowed) to `action` as soon as it loads. */
function autoSubmittingForm (action: string, fields: Array<[string, string]>, target = '_self'): string {
  const inputs = fields.map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('')
  return `<form method="post" target="${target}" action="${escapeHtml(action)}">${inputs}</form><script>document.forms[0].submit()</script>`
}

/**
 * The form inside a sandboxed frame: an opaque origin, so the browser sends `Origin: null`. It
 * posts to the top window (a POST that stays inside the frame is sent too, but Playwright does
 * not report it).
 */
function fromSandbox (action: string, fields: Array<[string, string]>): string {
  const form = autoSubmittingForm(action, fields, '_top')
  return `<iframe sandbox="allow-forms allow-scripts allow-top-navigation" srcdoc="${escapeHtml(form)}"></iframe>`
}

interface Forgery {
  name: string
  path: string
  fields: Array<[string, string]>
}

const evil = new EvilSite()
test.beforeAll(async () => { await evil.start() })
test.afterAll(async () => { await evil.stop() })

/** A CSRF token the attacker got from the app for their own (signed-out) visit. */
async function attackersOwnToken (request: APIRequestContext): Promise<string> {
  const page = await (await request.get('/login')).text()
  const match = /name="_csrf" value="([^"]+)"/.exec(page)
  expect(match, 'a CSRF token on the sign-in page').not.toBeNull()
  return match![1]
}

/** Opens an evil page and returns the app's answer to the POST it makes. */
async function forge (page: Page, appOrigin: string, path: string, evilPage: string): Promise<Response> {
  const answered = page.waitForResponse(r => r.request().method() === 'POST' && r.url().startsWith(appOrigin + path))
  // 'commit': the page submits its form while loading, which would interrupt a wait for 'load'.
  await page.goto(evilPage, { waitUntil: 'commit' })
  const response = await answered
  await page.waitForURL(url => url.origin === appOrigin)
  await page.waitForLoadState()
  return response
}

test('forged cross-site forms change nothing and cannot switch the victim\'s account', async ({ page, playwright, baseURL, createUser, login }) => {
  const appOrigin = new URL(baseURL!).origin
  const admin = await playwright.request.newContext({ baseURL, storageState: ADMIN_STATE })
  const visitor = await playwright.request.newContext({ baseURL })
  try {
    // The victim: an Admin (so deleting a user is something they may do), signed in for real.
    const victim: TestUser = await createUser()
    const promoted = await admin.put('/api/users', { data: { uid: victim.uid, role: 'Admin' } })
    expect(promoted.status(), await promoted.text()).toBe(200)
    const target = await createUser()
    const attacker = await createUser()
    await login(page, victim.uid, victim.password)
    const attackerToken = await attackersOwnToken(visitor)

    const forgeries: Forgery[] = [
      { name: 'delete a user', path: `/users/${target.id}/delete`, fields: [] },
      { name: 'change the password', path: '/profile/password', fields: [['currentPassword', victim.password], ['newPassword', 'attacker-chosen-pass']] },
      { name: 'sign in as the attacker (login CSRF)', path: '/login', fields: [['uid', attacker.uid], ['password', attacker.password]] }
    ]
    const variants: Array<{ name: string, build: (f: Forgery) => string }> = [
      { name: 'without a token', build: f => autoSubmittingForm(appOrigin + f.path, f.fields) },
      { name: "with the attacker's own token", build: f => autoSubmittingForm(appOrigin + f.path, [...f.fields, ['_csrf', attackerToken]]) },
      { name: 'with two tokens', build: f => autoSubmittingForm(appOrigin + f.path, [...f.fields, ['_csrf', attackerToken], ['_csrf', 'x']]) },
      { name: 'with the token in the query string', build: f => autoSubmittingForm(`${appOrigin}${f.path}?_csrf=${encodeURIComponent(attackerToken)}`, f.fields) },
      { name: 'from a sandboxed frame (Origin: null)', build: f => fromSandbox(appOrigin + f.path, [...f.fields, ['_csrf', attackerToken]]) }
    ]

    for (const forgery of forgeries) {
      for (const variant of variants) {
        await test.step(`${forgery.name}, ${variant.name}`, async () => {
          const response = await forge(page, appOrigin, forgery.path, evil.serve(variant.build(forgery)))
          expect(response.status(), `${forgery.path} ${variant.name}`).toBe(403)
          expect(await response.headerValue('set-cookie') ?? '', 'no session cookie is set').not.toMatch(/(^|\n)token=[^;]/)
        })
      }
    }

    await test.step('the victim is still signed in as themselves', async () => {
      const me = await page.request.get('/api/id')
      expect(me.status()).toBe(200)
      expect((await me.json() as { uid: string }).uid).toBe(victim.uid)
      await page.goto('/')
      await expect(page.getByTestId('current-user')).toContainText(`(${victim.uid}, Admin)`)
    })
    await test.step('the user is not deleted', async () => {
      expect((await admin.get(`/api/users/${target.id}`)).status()).toBe(200)
    })
    await test.step('the password still works and the attacker\'s does not', async () => {
      for (const [password, status] of [[victim.password, 200], ['attacker-chosen-pass', 401]] as const) {
        const fresh = await playwright.request.newContext({ baseURL })
        const response = await fresh.post('/api/authenticate', { data: { uid: victim.uid, password } })
        expect(response.status(), password === victim.password ? 'the real password' : 'the forged one').toBe(status)
        await fresh.dispose()
      }
    })
  } finally {
    await admin.dispose()
    await visitor.dispose()
  }
})

test('another site cannot frame the sign-in page: the frame stays empty', async ({ page, baseURL }) => {
  const appOrigin = new URL(baseURL!).origin
  const loaded = page.waitForResponse(r => r.url() === `${appOrigin}/login`)
  await page.goto(evil.serve(`<h1>Win a prize</h1><iframe title="framed app" src="${appOrigin}/login" width="600" height="400"></iframe>`))
  // The browser fetched the page, and was told not to show it in a frame.
  const response = await loaded
  expect(response.status()).toBe(200)
  expect(response.headers()['content-security-policy']).toContain("frame-ancestors 'none'")
  await page.waitForLoadState('load')

  await expect(page.getByRole('heading', { name: 'Win a prize' })).toBeVisible()
  const frame = page.frameLocator('iframe[title="framed app"]')
  await expect(frame.getByLabel('User id')).toHaveCount(0)
  await expect(frame.getByLabel('Password', { exact: true })).toHaveCount(0)
  await expect(frame.getByRole('button', { name: 'Sign in' })).toHaveCount(0)
  const framed = page.frames().find(f => f !== page.mainFrame())
  expect(framed, 'the iframe exists').toBeDefined()
  expect(framed!.url().startsWith(appOrigin), `the frame did not load the app (${framed!.url()})`).toBe(false)
})
