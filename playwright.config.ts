import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineConfig, devices } from '@playwright/test'

/**
 * End-to-end tests against the real server (`npm run start`: build, then `node dist/server.js`)
 * in Chromium. Run them with `npm run test:e2e`, which finds or installs a browser and passes
 * it in CHROMIUM_PATH; without CHROMIUM_PATH Playwright's own Chromium is used.
 */
const PORT = Number(process.env.E2E_PORT ?? 3100)
const baseURL = `http://127.0.0.1:${PORT}`
// A fresh runtime folder and database per run: the webServer command deletes it before starting.
const instanceDir = join(tmpdir(), `fastify-portfolio-e2e-${PORT}`)

const executablePath = process.env.CHROMIUM_PATH || undefined

export default defineConfig({
  testDir: 'e2e',
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  workers: 2,
  timeout: 30_000,
  expect: { timeout: 5_000 },
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    ...devices['Desktop Chrome'],
    baseURL,
    trace: 'on-first-retry',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath,
      // A closed network: no update checks, sync or QUIC probes.
      args: [
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic'
      ]
    }
  },
  projects: [
    // Signs in once per role through the real form and saves the cookies for read-only specs.
    { name: 'setup', testMatch: /.*\.setup\.ts/ },
    { name: 'chromium', dependencies: ['setup'], testIgnore: /.*\.setup\.ts/ }
  ],
  webServer: {
    command: 'node -e "require(\'node:fs\').rmSync(process.env.INSTANCE_DIR, { recursive: true, force: true })" && npm run start',
    url: `${baseURL}/api/health`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(PORT),
      INSTANCE_DIR: instanceDir,
      DATABASE_URL: `file:${join(instanceDir, 'e2e.db')}`,
      LOGIN_RATE_LIMIT: '1000',
      LOG_LEVEL: 'warn'
    }
  }
})
