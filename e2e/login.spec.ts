import { expect, test } from './fixtures.ts'

test.describe('sign in', () => {
  test('signs in through the form from the navbar', async ({ page, createUser }) => {
    const user = await createUser()
    await page.goto('/')
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' }).click()
    await expect(page).toHaveURL('/login')
    await expect(page.getByRole('heading', { name: 'Sign in', level: 1 })).toBeVisible()

    await page.getByLabel('User id').fill(user.uid)
    await page.getByLabel('Password', { exact: true }).fill(user.password)
    await page.getByRole('button', { name: 'Sign in' }).click()

    await expect(page).toHaveURL('/')
    await expect(page.getByRole('status')).toHaveText(`Welcome back, ${user.name}.`)
    await expect(page.getByTestId('current-user')).toHaveText(`${user.name} (${user.uid}, User)`)
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible()
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' })).toHaveCount(0)
  })

  test('a wrong password keeps the user id and empties the password', async ({ page, createUser }) => {
    const user = await createUser()
    await page.goto('/login')
    await page.getByLabel('User id').fill(user.uid)
    await page.getByLabel('Password', { exact: true }).fill('not-the-password')

    const answer = page.waitForResponse(r => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login')
    await page.getByRole('button', { name: 'Sign in' }).click()
    expect((await answer).status()).toBe(401)

    await expect(page.getByRole('alert')).toHaveText('Incorrect user id or password.')
    await expect(page.getByLabel('User id')).toHaveValue(user.uid)
    await expect(page.getByLabel('Password', { exact: true })).toHaveValue('')
    await expect(page.getByTestId('current-user')).toHaveCount(0)
    expect((await page.context().cookies()).find(c => c.name === 'token')).toBeUndefined()
  })

  test('a protected page sends you to sign in and back again', async ({ page, createUser }) => {
    const user = await createUser()
    await page.goto('/profile')
    await expect(page).toHaveURL('/login?next=%2Fprofile')

    await page.getByLabel('User id').fill(user.uid)
    await page.getByLabel('Password', { exact: true }).fill(user.password)
    await page.getByRole('button', { name: 'Sign in' }).click()

    await expect(page).toHaveURL('/profile')
    await expect(page.getByRole('heading', { name: 'Your profile' })).toBeVisible()
    await expect(page.getByTestId('current-user')).toContainText(`(${user.uid}, User)`)
  })

  test('an empty password re-renders the form and keeps the user id', async ({ page }) => {
    await page.goto('/login')
    await page.getByLabel('User id').fill('toby')
    await page.getByRole('button', { name: 'Sign in' }).click()

    await expect(page.getByRole('heading', { name: 'Sign in', level: 1 })).toBeVisible()
    await expect(page.getByRole('alert')).toBeVisible()
    await expect(page.getByLabel('User id')).toHaveValue('toby')
  })
})
