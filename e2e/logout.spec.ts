import { expect, test } from './fixtures.ts'

// Signs in afresh: signing out revokes the session, so the shared saved sign-ins are not used here.
test('after signing out, Back shows nothing protected and /profile asks to sign in', async ({ page, context, createUser, login }) => {
  const user = await createUser()
  await login(page, user.uid, user.password)
  await page.goto('/profile')
  await expect(page.getByRole('heading', { name: 'Your profile' })).toBeVisible()
  await expect(page.getByRole('definition').filter({ hasText: user.uid })).toBeVisible()

  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Sign out' }).click()
  await expect(page).toHaveURL('/login?signed_out=1')
  await expect(page.getByRole('status')).toHaveText('You have been signed out.')
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' })).toBeVisible()
  expect((await context.cookies()).find(c => c.name === 'token')).toBeUndefined()

  // Back to the profile's history entry: it must be fetched again (no-store), not shown from a cache.
  await page.goBack()
  await expect(page).toHaveURL('/login?next=%2Fprofile')
  await expect(page.getByRole('heading', { name: 'Sign in', level: 1 })).toBeVisible()
  await expect(page.getByRole('heading', { name: 'Your profile' })).toHaveCount(0)
  await expect(page.getByText(user.uid, { exact: true })).toHaveCount(0)
  await expect(page.getByTestId('current-user')).toHaveCount(0)

  await page.goto('/profile')
  await expect(page).toHaveURL('/login?next=%2Fprofile')
  await expect(page.getByRole('heading', { name: 'Your profile' })).toHaveCount(0)
})

test('protected pages are sent with Cache-Control: no-store', async ({ page, createUser, login }) => {
  const user = await createUser()
  await login(page, user.uid, user.password)
  for (const path of ['/profile', '/users']) {
    const response = await page.goto(path)
    expect(response?.status(), path).toBe(200)
    expect(response?.headers()['cache-control'], path).toContain('no-store')
  }
})
