// `prisma generate` without Prisma's native engines (they cannot be downloaded here; see
// docs/decisions/0003). Generation needs no schema engine, but the CLI insists on a path to one:
// any existing executable satisfies it. Runs on every `npm install` (postinstall).
//
// Two clients: SQLite (prisma/schema.prisma → src/generated/prisma) and PostgreSQL
// (prisma/postgresql/schema.prisma → src/generated/prisma-postgresql); see docs/decisions/0015.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cli = require.resolve('prisma/build/index.js')
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1' }
for (const schema of ['prisma/schema.prisma', 'prisma/postgresql/schema.prisma']) {
  const result = spawnSync(process.execPath, [cli, 'generate', '--schema', schema], { stdio: 'inherit', env })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
