// Small helpers shared by the test runners in scripts/ (plain Node, no build step).
import { accessSync, constants } from 'node:fs'
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
