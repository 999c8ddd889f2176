import { ADMIN_STATE, USER_STATE, expect, test } from './fixtures.ts'
import type { Page } from '@playwright/test'

/** The users-table row whose "User id" cell is `uid`. */
function userRow (page: Page, uid: string) {
  return page.getByRole('table', { name: 'All users' }).getByRole('row')
    .filter({ has: page.getByRole('cell', { name: uid, exact: true }) })
}

test.describe('as an Admin', () => {
  test.use({ storageState: ADMIN_STATE })

  test('changes a user\'s role', async ({ page, createUser }) => {
    const user = await createUser()
    await page.goto('/users')
    const row = userRow(page, user.uid)
    await expect(row.getByRole('cell', { name: 'User', exact: true })).toBeVisible()

    await row.getByLabel(`Role of ${user.uid}`).selectOption('Admin')
    await row.getByRole('button', { name: `Set role of ${user.uid}` }).click()

    await expect(page).toHaveURL('/users')
    await expect(page.getByRole('status')).toHaveText(`${user.uid} is now an Admin.`)
    await expect(userRow(page, user.uid).getByRole('cell', { name: 'Admin', exact: true })).toBeVisible()
    await expect(userRow(page, user.uid).getByLabel(`Role of ${user.uid}`)).toHaveValue('Admin')
  })

  test('deletes a user through the confirmation page', async ({ page, createUser }) => {
    const user = await createUser()
    await page.goto('/users')
    await userRow(page, user.uid).getByRole('link', { name: `Delete ${user.uid}` }).click()

    await expect(page).toHaveURL(`/users/${user.id}/delete`)
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Delete ${user.uid}?`)
    await page.getByRole('button', { name: 'Delete user' }).click()

    await expect(page).toHaveURL('/users')
    await expect(page.getByRole('status')).toHaveText(`${user.uid} was deleted.`)
    await expect(userRow(page, user.uid)).toHaveCount(0)
  })

  test('cancelling the confirmation keeps the user', async ({ page, createUser }) => {
    const user = await createUser()
    await page.goto(`/users/${user.id}/delete`)
    await page.getByRole('link', { name: 'Cancel' }).click()
    await expect(page).toHaveURL('/users')
    await expect(userRow(page, user.uid)).toHaveCount(1)
  })

  test('a name with markup is shown as text, never run', async ({ page, createUser }) => {
    const name = '<script>alert(1)</script>"><svg onload=alert(1)>'
    const user = await createUser({ name })
    const dialogs: string[] = []
    page.on('dialog', dialog => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`)
      dialog.dismiss().catch(() => {})
    })

    for (const path of ['/users', `/users/${user.id}/delete`]) {
      const response = await page.goto(path)
      expect(response?.status()).toBe(200)
      const html = await response!.text()
      expect(html, `${path} escapes the name`).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;svg onload=alert(1)&gt;')
      expect(html).not.toContain('<script>alert(1)')
      expect(html).not.toContain('<svg onload')
      await expect(page.locator('main svg, main script')).toHaveCount(0)
    }
    await page.goto('/users')
    await expect(userRow(page, user.uid).getByRole('cell', { name, exact: true })).toBeVisible()
    // Give any injected handler a moment to fire before concluding none did.
    await page.waitForLoadState('load')
    expect(dialogs).toEqual([])
  })
})

test.describe('as a User', () => {
  test.use({ storageState: USER_STATE })

  test('sees no admin actions and gets 403 on a delete page', async ({ page, createUser }) => {
    const other = await createUser()
    await page.goto('/users')
    await expect(page.getByText('only Admins can change other accounts')).toBeVisible()
    await expect(userRow(page, other.uid)).toHaveCount(1)
    await expect(page.getByRole('columnheader', { name: 'Actions' })).toHaveCount(0)
    await expect(page.getByRole('button', { name: /Set role/ })).toHaveCount(0)
    await expect(page.getByRole('link', { name: /^Delete/ })).toHaveCount(0)
    await expect(page.getByRole('combobox')).toHaveCount(0)

    const response = await page.goto(`/users/${other.id}/delete`)
    expect(response?.status()).toBe(403)
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Forbidden')
    await expect(page.getByRole('button', { name: 'Delete user' })).toHaveCount(0)
    await expect(page.getByTestId('current-user')).toContainText('(niko, User)')
  })
})
