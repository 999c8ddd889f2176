import { test as base, expect, type APIRequestContext, type Page } from '@playwright/test'

/** Saved sign-ins from `auth.setup.ts`, for specs that only read. Never sign these out. */
export const ADMIN_STATE = 'e2e/.auth/toby.json'
export const USER_STATE = 'e2e/.auth/niko.json'

/** The seeded demo accounts (development passwords, see src/db/seed.ts). */
export const DEMO_USERS = {
  toby: { uid: 'toby', password: 'toby-demo-pass', name: 'Thomas Edison', role: 'Admin' },
  niko: { uid: 'niko', password: 'niko-demo-pass', name: 'Nikola Tesla', role: 'User' }
} as const

export interface TestUser {
  id: number
  uid: string
  password: string
  name: string
}

export interface NewUserOptions {
  name?: string
  password?: string
  /** `YYYY-MM-DD` */
  dob?: string
}

export type CreateUser = (options?: NewUserOptions) => Promise<TestUser>

let sequence = 0

/** A user id no other test (or earlier run) has used: worker, time and a counter. */
export function uniqueUid (prefix = 'e2e'): string {
  const worker = process.env.TEST_WORKER_INDEX ?? '0'
  return `${prefix}-${worker}-${Date.now().toString(36)}-${++sequence}`
}

/** Signs in through the real form and waits until the navbar shows the user. */
export async function login (page: Page, uid: string, password: string): Promise<void> {
  await page.goto('/login')
  await page.getByLabel('User id').fill(uid)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByTestId('current-user')).toContainText(`(${uid.toLowerCase()}, `)
}

interface Fixtures {
  /** Makes a user through the public JSON API; it is deleted after the test. */
  createUser: CreateUser
  /** Signs in through the real form (see `login` below). */
  login: (page: Page, uid: string, password: string) => Promise<void>
  /** Deletes a user made outside `createUser` (e.g. through the sign-up form) after the test. */
  deleteAfterTest: (uid: string) => void
}

export const test = base.extend<Fixtures>({
  // Users are made through the public JSON API (as a visitor would), never with server code,
  // and deleted afterwards with the Admin's saved session.
  deleteAfterTest: async ({ playwright, baseURL }, use) => {
    const uids: string[] = []
    await use(uid => { uids.push(uid) })
    if (uids.length === 0) return
    const admin: APIRequestContext = await playwright.request.newContext({ baseURL, storageState: ADMIN_STATE })
    try {
      for (const uid of uids) {
        const response = await admin.delete('/api/users', { data: { uid } })
        // 404: the test deleted the user itself.
        expect([200, 404], `clean-up of ${uid}: ${await response.text()}`).toContain(response.status())
      }
    } finally {
      await admin.dispose()
    }
  },

  createUser: async ({ playwright, baseURL, deleteAfterTest }, use) => {
    const visitor = await playwright.request.newContext({ baseURL })
    await use(async (options = {}) => {
      const uid = uniqueUid()
      const password = options.password ?? `pw-${uid}-secret`
      const name = options.name ?? `Test User ${uid}`
      const response = await visitor.post('/api/users', {
        data: { uid, name, password, ...(options.dob === undefined ? {} : { dob: options.dob }) }
      })
      expect(response.status(), `POST /api/users: ${await response.text()}`).toBe(201)
      deleteAfterTest(uid)
      const created = await response.json() as { id: number, uid: string, name: string }
      return { id: created.id, uid: created.uid, name: created.name, password }
    })
    await visitor.dispose()
  },

  login: async ({}, use) => { // eslint-disable-line no-empty-pattern -- Playwright requires the destructuring
    await use(login)
  }
})

export { expect }
