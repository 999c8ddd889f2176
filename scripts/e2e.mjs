#!/usr/bin/env node
// `npm run test:e2e`: finds a Chromium for Playwright, then runs `playwright test` with it.
// Order: Playwright's own browser (`npx playwright install chromium`), CHROMIUM_PATH, a system
// Chromium or Chrome; on Debian/Ubuntu as root it installs the `chromium` package with apt.
// End-to-end tests are never skipped: without a browser this exits 1 and says how to get one.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chromium } from '@playwright/test'
import { isExecutable } from './lib/system.mjs'

const SYSTEM_BROWSERS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable']

function playwrightBrowser () {
  try {
    const path = chromium.executablePath()
    return path && isExecutable(path) ? path : null
  } catch {
    return null
  }
}

function findBrowser () {
  const own = playwrightBrowser()
  if (own !== null) return { path: own, source: 'Playwright' }
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv) {
    if (isExecutable(fromEnv)) return { path: fromEnv, source: 'CHROMIUM_PATH' }
    console.warn(`e2e: CHROMIUM_PATH=${fromEnv} is not an executable file; looking elsewhere.`)
  }
  const system = SYSTEM_BROWSERS.find(isExecutable)
  return system === undefined ? null : { path: system, source: 'system' }
}

function run (command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options })
  if (result.error) throw result.error
  return result.status ?? 1
}

function installWithApt () {
  console.log('e2e: no Chromium found; installing the Debian package `chromium` with apt-get (about a minute)...')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  if (run('apt-get', ['update'], { env }) !== 0) return false
  return run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { env }) === 0 &&
    isExecutable('/usr/bin/chromium')
}

let browser = findBrowser()
if (browser === null) {
  const canApt = existsSync('/etc/debian_version') && process.getuid?.() === 0
  if (canApt && installWithApt()) browser = { path: '/usr/bin/chromium', source: 'apt' }
}
if (browser === null) {
  console.error([
    'e2e: no Chromium browser found, so the end-to-end tests cannot run.',
    'Install one of:',
    '  npx playwright install --with-deps chromium      (Playwright\'s own build)',
    '  sudo apt-get install chromium                     (Debian/Ubuntu; gives /usr/bin/chromium)',
    'or point CHROMIUM_PATH at an existing Chromium or Chrome executable.'
  ].join('\n'))
  process.exit(1)
}

console.log(`e2e: using ${browser.source} Chromium at ${browser.path}`)
const status = run('npx', ['--no-install', 'playwright', 'test', ...process.argv.slice(2)], {
  env: { ...process.env, CHROMIUM_PATH: browser.path }
})
process.exit(status)
