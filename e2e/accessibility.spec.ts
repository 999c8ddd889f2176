import AxeBuilder from '@axe-core/playwright'
import type { Page } from '@playwright/test'
import { ADMIN_STATE, expect, test } from './fixtures.ts'

type AxePage = ConstructorParameters<typeof AxeBuilder>[0]['page']

/**
 * axe for this page. The cast only bridges two copies of playwright-core's types
 * (@axe-core/playwright resolves its own patch release); the object is the same Page.
 */
function axe (page: Page) {
  return new AxeBuilder({ page: page as unknown as AxePage })
}

/** Runs axe-core on the page and fails on serious or critical violations, listing them. */
async function expectNoSeriousViolations (page: Page, path: string) {
  const response = await page.goto(path)
  expect(response, path).not.toBeNull()
  const { violations } = await axe(page).analyze()
  const serious = violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
  const report = serious.map(v =>
    `[${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n` +
    v.nodes.map(n => `    ${n.target.join(' ')}: ${n.failureSummary?.replace(/\n/g, ' ') ?? ''}`).join('\n')
  ).join('\n')
  expect(serious, `axe on ${path} found:\n${report}`).toEqual([])
}

test.describe('signed out', () => {
  for (const path of ['/', '/login', '/signup', '/table', '/docs/api', '/no-such-page']) {
    test(`${path} has no serious accessibility violations`, async ({ page }) => {
      await expectNoSeriousViolations(page, path)
    })
  }

  test('/login with an error has no serious accessibility violations', async ({ page }) => {
    await page.goto('/login')
    await page.getByLabel('User id').fill('nobody')
    await page.getByLabel('Password', { exact: true }).fill('wrong-password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(page.getByRole('alert')).toBeVisible()
    const { violations } = await axe(page).analyze()
    expect(violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)).toEqual([])
  })
})

test.describe('signed in', () => {
  test.use({ storageState: ADMIN_STATE })

  for (const path of ['/profile', '/users', '/']) {
    test(`${path} has no serious accessibility violations`, async ({ page }) => {
      await expectNoSeriousViolations(page, path)
    })
  }
})
