import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { build, signIn, TEST_SECRET } from '../helper.ts'
import { createUser } from '../factories.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** `npm run user:role -- <args>` as a person runs it, on the test app's database. */
function userRole (databaseUrl: string, ...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/user-role.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, NODE_ENV: 'test', LOG_LEVEL: 'silent', JWT_SECRET: TEST_SECRET, DATABASE_URL: databaseUrl, INSTANCE_DIR: process.env.TMPDIR ?? '/tmp', FASTIFY_AUTOLOAD_TYPESCRIPT: '1' },
    timeout: 60_000
  })
  return { status: result.status, out: result.stdout + result.stderr }
}

test('user:role makes a user an Admin: role saved, sessions ended, audit event with no actor', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app, { uid: 'first-admin' })
  const cookie = await signIn(app, user.id)
  const run = userRole(app.config.databaseUrl, 'First-Admin', 'admin')
  assert.equal(run.status, 0, run.out)
  assert.match(run.out, /first-admin is now an Admin \(was User\); 1 session ended/)
  assert.equal((await app.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).role, 'Admin')
  // This instance's cache may hold the session for SESSION_CACHE_MS; the row says it ended.
  app.sessionCache.clear()
  assert.equal((await app.inject({ url: '/api/id', headers: { cookie } })).statusCode, 401)
  const event = await app.prisma.auditEvent.findFirstOrThrow({ where: { type: 'role_changed', targetId: user.id } })
  assert.equal(event.actorId, null)
  assert.equal(event.ip, 'command line')
  assert.deepEqual(JSON.parse(event.detail), { from: 'User', to: 'Admin', via: 'command line' })

  const again = userRole(app.config.databaseUrl, 'first-admin', 'Admin')
  assert.equal(again.status, 0)
  assert.match(again.out, /already an Admin\. Nothing was changed/)
})

test('user:role refuses an unknown user id, a bad role and missing arguments, and changes nothing', async (t) => {
  const app = await build(t)
  const { user } = await createUser(app)
  for (const [args, message] of [
    [['nobody-here', 'Admin'], /No user with the user id "nobody-here"/],
    [[user.uid, 'Root'], /must be Admin or User, not "Root"/],
    [[user.uid], /Usage: npm run user:role -- <user id> <Admin\|User>/]
  ] as const) {
    const run = userRole(app.config.databaseUrl, ...args)
    assert.equal(run.status, 1, run.out)
    assert.match(run.out, message)
    assert.doesNotMatch(run.out, /at .*\.ts:\d+/, 'a sentence, not a stack trace')
  }
  assert.equal((await app.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).role, 'User')
  assert.equal(await app.prisma.auditEvent.count({ where: { type: 'role_changed' } }), 0)
})
