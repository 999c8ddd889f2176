// `prisma generate` without Prisma's native engines (they cannot be downloaded here; see
// docs/decisions/0003). Generation needs no schema engine, but the CLI insists on a path to one:
// any existing executable satisfies it. Runs on every `npm install` (postinstall).
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cli = require.resolve('prisma/build/index.js')
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1' }
const result = spawnSync(process.execPath, [cli, 'generate'], { stdio: 'inherit', env })
process.exit(result.status ?? 1)
