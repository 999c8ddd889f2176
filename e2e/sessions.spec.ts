import { expect, test } from './fixtures.ts'

test('a device signed out from another one is asked to sign in on its next page', async ({ browser, page, createUser, login }) => {
  const user = await createUser()
  await login(page, user.uid, user.password)
  const otherContext = await browser.newContext()
  const other = await otherContext.newPage()
  try {
    await login(other, user.uid, user.password)

    await page.goto('/profile')
    const sessions = page.getByRole('table', { name: 'Devices signed in to your account' })
    await expect(sessions.getByRole('row')).toHaveCount(3) // header + two devices
    await expect(sessions.getByText('(this session)')).toHaveCount(1)
    await page.getByRole('button', { name: 'Sign out everywhere else' }).click()
    await expect(page.getByRole('status')).toContainText('Signed out everywhere else (1 session)')
    await expect(sessions.getByRole('row')).toHaveCount(2)

    await other.goto('/profile')
    await expect(other).toHaveURL('/login?next=%2Fprofile')
    await expect(other.getByTestId('current-user')).toHaveCount(0)

    // This device is still signed in.
    await page.goto('/users')
    await expect(page.getByRole('heading', { name: 'Users', level: 1 })).toBeVisible()
  } finally {
    await otherContext.close()
  }
})

test('signing one device out by its row leaves this one signed in', async ({ browser, page, createUser, login }) => {
  const user = await createUser()
  await login(page, user.uid, user.password)
  const otherContext = await browser.newContext({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' })
  const other = await otherContext.newPage()
  try {
    await login(other, user.uid, user.password)
    await page.goto('/profile')
    const row = page.getByRole('row').filter({ hasText: 'Firefox 140 on Linux' })
    await expect(row).toHaveCount(1)
    await row.getByRole('button', { name: /Sign out this device/ }).click()
    await expect(page.getByRole('status')).toContainText('That session was signed out.')
    await other.goto('/profile')
    await expect(other).toHaveURL('/login?next=%2Fprofile')
    await page.goto('/profile')
    await expect(page.getByRole('heading', { name: 'Your profile' })).toBeVisible()
  } finally {
    await otherContext.close()
  }
})
