import AxeBuilder from '@axe-core/playwright'
import type { Page } from '@playwright/test'
import { ADMIN_STATE, USER_STATE, expect, test, uniqueUid } from './fixtures.ts'

type AxePage = ConstructorParameters<typeof AxeBuilder>[0]['page']

/** Serious and critical axe violations on the current page, one line each (see accessibility.spec.ts). */
async function seriousViolations (page: Page): Promise<string[]> {
  // The cast only bridges two copies of playwright-core's types; the object is the same Page.
  const { violations } = await new AxeBuilder({ page: page as unknown as AxePage }).analyze()
  return violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `[${v.impact}] ${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`)
}

test.describe('as an Admin', () => {
  test.use({ storageState: ADMIN_STATE })

  test('opens the audit trail from the navbar and filters it by event type and user id', async ({ page, playwright, baseURL }) => {
    // 1. Something to find: a failed sign-in, made by a visitor through the JSON API.
    const uid = uniqueUid('audit')
    const visitor = await playwright.request.newContext({ baseURL })
    const attempt = await visitor.post('/api/authenticate', { data: { uid, password: 'not-the-password' } })
    expect(attempt.status()).toBe(401)
    await visitor.dispose()

    // 2. The Admin finds the page in the navbar.
    await page.goto('/')
    const nav = page.getByRole('navigation', { name: 'Main' })
    await nav.getByRole('link', { name: 'Audit' }).click()
    await expect(page).toHaveURL('/audit')
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Audit trail')
    await expect(nav.getByRole('link', { name: 'Audit' })).toHaveAttribute('aria-current', 'page')

    // 3. Filters: the form is a plain GET, so the filters end up in the URL.
    await page.getByLabel('Event', { exact: true }).selectOption({ label: 'Sign-in failed' })
    await page.getByLabel('User id', { exact: true }).fill(uid.toUpperCase())
    await page.getByRole('button', { name: 'Filter' }).click()
    await expect(page).toHaveURL(/\/audit\?type=sign_in_failed&uid=/)
    await expect(page.getByLabel('Event', { exact: true })).toHaveValue('sign_in_failed')

    // 4. The table: the attempt, and nothing but failed sign-ins.
    const table = page.getByRole('table', { name: 'Audit events, newest first' })
    const rows = table.getByRole('row').filter({ has: page.getByRole('cell') })
    await expect(rows).toHaveCount(1)
    await expect(rows.first().getByRole('cell', { name: uid, exact: true })).toBeVisible()
    await expect(rows.first().getByRole('cell', { name: 'Sign-in failed', exact: true })).toBeVisible()
    await expect(rows.first().locator('time')).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

    // 5. A filter that matches nothing says so.
    await page.getByLabel('Event', { exact: true }).selectOption({ label: 'User deleted' })
    await page.getByRole('button', { name: 'Filter' }).click()
    await expect(page.getByText('No events match these filters.')).toBeVisible()
    await expect(table).toHaveCount(0)
  })

  test('/audit has no serious accessibility violations, with events and with a filter error', async ({ page }) => {
    // The Admin's own sign-in (auth.setup.ts) is on the trail, so the table is there.
    await page.goto('/audit?type=sign_in')
    await expect(page.getByRole('table', { name: 'Audit events, newest first' })).toBeVisible()
    expect(await seriousViolations(page)).toEqual([])

    const response = await page.goto('/audit?from=2026-02-30')
    expect(response?.status()).toBe(422)
    await expect(page.getByLabel('From', { exact: true })).toHaveAttribute('aria-invalid', 'true')
    expect(await seriousViolations(page)).toEqual([])
  })
})

test.describe('as a User', () => {
  test.use({ storageState: USER_STATE })

  test('sees no Audit link and gets the 403 page', async ({ page }) => {
    await page.goto('/')
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' })).toHaveCount(0)
    const response = await page.goto('/audit')
    expect(response?.status()).toBe(403)
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Forbidden')
  })
})
