import { expect, test, uniqueUid } from './fixtures.ts'

test.describe('sign up', () => {
  test('creates an account and lands on the profile, signed in', async ({ page, deleteAfterTest }) => {
    const uid = uniqueUid('new')
    const name = 'Ada Lovelace'
    deleteAfterTest(uid)
    await page.goto('/')
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign up' }).click()
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Create an account')

    await page.getByLabel('Name').fill(name)
    await page.getByLabel('User id').fill(uid)
    await page.getByLabel('Date of birth (optional)').fill('1990-12-10')
    await page.getByLabel('Password', { exact: true }).fill('a-long-enough-password')
    await page.getByRole('button', { name: 'Create account' }).click()

    await expect(page).toHaveURL('/profile')
    await expect(page.getByRole('status')).toHaveText(`Welcome, ${name}. Your account is ready.`)
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Your profile')
    await expect(page.getByTestId('current-user')).toHaveText(`${name} (${uid}, User)`)
    await expect(page.getByLabel('Name')).toHaveValue(name)
    await expect(page.getByLabel('Date of birth')).toHaveValue('1990-12-10')
  })

  test('invalid input shows errors tied to their fields', async ({ page }) => {
    await page.goto('/signup')
    await page.getByLabel('Name').fill('Grace Hopper')
    await page.getByLabel('User id').fill('-not valid')
    await page.getByLabel('Password', { exact: true }).fill('short')

    const answer = page.waitForResponse(r => r.request().method() === 'POST' && new URL(r.url()).pathname === '/signup')
    await page.getByRole('button', { name: 'Create account' }).click()
    expect((await answer).status()).toBe(422)

    const uid = page.getByLabel('User id')
    await expect(uid).toHaveAttribute('aria-invalid', 'true')
    await expect(uid).toHaveAccessibleDescription(/2 to 40 letters or digits/)
    await expect(uid).toHaveValue('-not valid')

    const password = page.getByLabel('Password', { exact: true })
    await expect(password).toHaveAttribute('aria-invalid', 'true')
    await expect(password).toHaveAccessibleDescription(/at least 8 characters/)

    // Valid fields are not marked.
    await expect(page.getByLabel('Name')).not.toHaveAttribute('aria-invalid', 'true')
    await expect(page.getByLabel('Name')).toHaveValue('Grace Hopper')
    await expect(page.getByTestId('current-user')).toHaveCount(0)
  })

  test('a taken user id is reported on the User id field', async ({ page, createUser }) => {
    const existing = await createUser()
    await page.goto('/signup')
    await page.getByLabel('Name').fill('Someone Else')
    await page.getByLabel('User id').fill(existing.uid.toUpperCase())
    await page.getByLabel('Password', { exact: true }).fill('a-long-enough-password')
    await page.getByRole('button', { name: 'Create account' }).click()

    const uid = page.getByLabel('User id')
    await expect(uid).toHaveAttribute('aria-invalid', 'true')
    await expect(uid).toHaveAccessibleDescription(/That user id is already taken\./)
    await expect(page.getByTestId('current-user')).toHaveCount(0)
  })

  test('an empty Name is reported on the Name field', async ({ page }) => {
    await page.goto('/signup')
    await page.getByLabel('User id').fill(uniqueUid('empty'))
    await page.getByLabel('Password', { exact: true }).fill('a-long-enough-password')
    await page.getByRole('button', { name: 'Create account' }).click()

    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Create an account')
    await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true')
    await expect(page.getByLabel('Name')).toHaveAccessibleDescription(/Name: 1 to 100 characters/)
  })
})
