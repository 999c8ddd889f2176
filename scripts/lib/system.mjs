// Small helpers shared by the test runners in scripts/ (plain Node, no build step).
import { accessSync, constants, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import pg from 'pg'

/** Whether `path` is a file this user may execute. */
export function isExecutable (path) {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * The node flags the server runs with in production: those of package.json's `start` script
 * (`node <flags> dist/server.js`), so that the bench and the cluster test run the server as
 * `npm start` and the container do (test/deploy.test.ts keeps the Dockerfile's CMD the same).
 */
export function serverNodeFlags (root) {
  const start = JSON.parse(readFileSync(new URL('package.json', `file://${root}/`), 'utf8')).scripts.start
  const match = /^node((?:\s+--[\w-]+(?:=\S+)?)*)\s+dist\/server\.js$/.exec(start.trim())
  if (match === null) throw new Error(`package.json: the start script is not \`node [--flags] dist/server.js\` (it is \`${start}\`)`)
  return match[1].trim().split(/\s+/).filter(Boolean)
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export function freePort () {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** Runs statements one by one on a short-lived connection to `url` (e.g. CREATE/DROP DATABASE on the server). */
export async function onPostgresServer (url, ...statements) {
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    for (const sql of statements) await client.query(sql)
  } finally {
    await client.end()
  }
}
