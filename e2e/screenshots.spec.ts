import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Page, TestInfo } from '@playwright/test'
import { ADMIN_STATE, expect, test } from './fixtures.ts'

// Full-page pictures for the README, refreshed by every run: docs/screenshots/<name>.png.
const DIR = join('docs', 'screenshots')
const DEMO_UIDS = ['toby', 'niko', 'lex', 'hop']

async function capture (page: Page, testInfo: TestInfo, name: string) {
  mkdirSync(DIR, { recursive: true })
  const path = join(DIR, `${name}.png`)
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' })
  await testInfo.attach(name, { path, contentType: 'image/png' })
}

test.use({ viewport: { width: 1280, height: 800 } })

test('home', async ({ page }, testInfo) => {
  await page.goto('/')
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome')
  await capture(page, testInfo, 'home')
})

test('login', async ({ page }, testInfo) => {
  await page.goto('/login')
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible()
  await capture(page, testInfo, 'login')
})

test.describe('as an Admin', () => {
  test.use({ storageState: ADMIN_STATE })

  test('users', async ({ page }, testInfo) => {
    await page.goto('/users')
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Users')
    for (const uid of DEMO_UIDS) await expect(page.getByRole('cell', { name: uid, exact: true })).toBeVisible()
    // Other specs create users while this one runs; the picture shows the seeded demo users only.
    await page.locator('tbody tr[data-uid]').evaluateAll((rows, keep) => {
      for (const row of rows) if (!keep.includes(row.getAttribute('data-uid') ?? '')) row.remove()
    }, DEMO_UIDS)
    await expect(page.locator('tbody tr')).toHaveCount(DEMO_UIDS.length)
    await capture(page, testInfo, 'users')
  })
})
