import { USER_STATE, expect, test } from './fixtures.ts'

test('an unknown path shows the 404 page inside the layout', async ({ page }) => {
  const response = await page.goto('/no-such-page')
  expect(response?.status()).toBe(404)
  expect(response?.headers()['content-type']).toContain('text/html')
  await expect(page).toHaveTitle(/404/)
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found')
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible()
  await expect(page.getByRole('contentinfo')).toBeVisible()
  await page.getByRole('link', { name: 'Back to the home page' }).click()
  await expect(page).toHaveURL('/')
})

test.describe('signed in', () => {
  test.use({ storageState: USER_STATE })

  test('the 404 page keeps the signed-in navbar', async ({ page }) => {
    const response = await page.goto('/users/999999999/delete-nothing')
    expect(response?.status()).toBe(404)
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found')
    await expect(page.getByTestId('current-user')).toContainText('(niko, User)')
  })
})
