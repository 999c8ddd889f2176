import { DEMO_USERS, USER_STATE, expect, test } from './fixtures.ts'

test.use({ storageState: USER_STATE })

test('the navbar moves between home, profile, users and table while signed in', async ({ page }) => {
  const { name, uid } = DEMO_USERS.niko
  const nav = page.getByRole('navigation', { name: 'Main' })
  const whoAmI = `${name} (${uid}, User)`

  await page.goto('/')
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${name}`)
  await expect(page.getByTestId('current-user')).toHaveText(whoAmI)

  await nav.getByRole('link', { name: 'Profile' }).click()
  await expect(page).toHaveURL('/profile')
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your profile')
  await expect(page.getByTestId('current-user')).toHaveText(whoAmI)

  await nav.getByRole('link', { name: 'Users' }).click()
  await expect(page).toHaveURL('/users')
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Users')
  await expect(page.getByRole('table', { name: 'All users' }).getByRole('cell', { name: uid, exact: true })).toBeVisible()

  await nav.getByRole('link', { name: 'Table' }).click()
  await expect(page).toHaveURL('/table')
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Pioneers of computing and invention')
  await expect(page.getByTestId('current-user')).toHaveText(whoAmI)

  await nav.getByRole('link', { name: 'Home', exact: true }).click()
  await expect(page).toHaveURL('/')
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${name}`)
})

test('signed out, the navbar offers only public pages', async ({ browser }) => {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } })
  const page = await context.newPage()
  await page.goto('/')
  const nav = page.getByRole('navigation', { name: 'Main' })
  await expect(nav.getByRole('link', { name: 'Sign in' })).toBeVisible()
  await expect(nav.getByRole('link', { name: 'Profile' })).toHaveCount(0)
  await expect(nav.getByRole('link', { name: 'Users' })).toHaveCount(0)
  await nav.getByRole('link', { name: 'Table' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Pioneers of computing and invention')
  await context.close()
})
