import { expect, test } from './fixtures.ts'

test('the session cookie is HttpOnly, SameSite=Lax, Path=/ and hidden from scripts', async ({ page, context, createUser }) => {
  const user = await createUser()
  await page.goto('/login')
  await page.getByLabel('User id').fill(user.uid)
  await page.getByLabel('Password', { exact: true }).fill(user.password)
  const signIn = page.waitForResponse(r => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login')
  await page.getByRole('button', { name: 'Sign in' }).click()

  // The header as sent (the redirect that follows a successful sign-in).
  const response = await signIn
  expect(response.status()).toBe(303)
  const setCookie = (await response.headersArray())
    .filter(h => h.name.toLowerCase() === 'set-cookie')
    .map(h => h.value)
    .find(v => v.startsWith('token='))
  expect(setCookie, 'Set-Cookie: token=...').toBeDefined()
  expect(setCookie).toMatch(/;\s*HttpOnly/i)
  expect(setCookie).toMatch(/;\s*SameSite=Lax/i)
  expect(setCookie).toMatch(/;\s*Path=\/(;|$)/i)
  await expect(page.getByTestId('current-user')).toContainText(`(${user.uid}, User)`)

  // The cookie as the browser stored it.
  const token = (await context.cookies()).find(c => c.name === 'token')
  expect(token, 'a cookie named token').toBeDefined()
  expect(token).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false })
  expect(token!.value.length).toBeGreaterThan(20)

  // Scripts on the page cannot read it.
  const visible = await page.evaluate<string>('document.cookie')
  expect(visible).not.toContain('token=')
  expect(visible).not.toContain(token!.value)
})
