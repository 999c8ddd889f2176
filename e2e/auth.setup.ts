import { ADMIN_STATE, DEMO_USERS, USER_STATE, test as setup } from './fixtures.ts'

// Signs in once per role through the real form; read-only specs reuse the saved cookies
// (`test.use({ storageState })`), as in Playwright's authentication guide.
const accounts = [
  { ...DEMO_USERS.toby, file: ADMIN_STATE },
  { ...DEMO_USERS.niko, file: USER_STATE }
]

for (const account of accounts) {
  setup(`sign in as ${account.uid}`, async ({ page, login }) => {
    await login(page, account.uid, account.password)
    await page.context().storageState({ path: account.file })
  })
}
