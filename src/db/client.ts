import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaClient } from '../generated/prisma/client.ts'
import { isPostgresUrl, loadPostgresDriver, postgresPoolConfig, sqliteFilePath } from './migrator.ts'

export type { PrismaClient }

/**
 * One Prisma client on a driver adapter (no native engine), chosen by DATABASE_URL:
 * - `file:...`: SQLite, the embedded default; its folder is created on first use;
 * - `postgres://...` / `postgresql://...`: PostgreSQL through node-postgres (docs/decisions/0015).
 */
export async function createPrismaClient (databaseUrl: string): Promise<PrismaClient> {
  if (isPostgresUrl(databaseUrl)) return createPostgresClient(databaseUrl)
  const file = sqliteFilePath(databaseUrl)
  if (file === null || file === ':memory:') {
    throw new Error('DATABASE_URL must be file:<path> (SQLite) or postgresql://... (PostgreSQL).')
  }
  mkdirSync(dirname(file), { recursive: true })
  const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: `file:${file}`, timeout: 5000 }) })
  // WAL lets readers run while a write is in progress; the setting is stored in the file.
  await prisma.$queryRaw`PRAGMA journal_mode = WAL`
  return prisma
}

async function createPostgresClient (databaseUrl: string): Promise<PrismaClient> {
  // Loaded only for PostgreSQL, like the driver (see loadPostgresDriver).
  const [{ pg, PrismaPg }, { PrismaClient: PostgresPrismaClient }] = await Promise.all([
    loadPostgresDriver(), import('../generated/prisma-postgresql/client.ts')
  ])
  // The pool's sessions run in UTC (see postgresPoolConfig): adapter-pg reads timestamptz values
  // as if printed in UTC. The pool ends with the client ($disconnect disposes the adapter).
  const pool = new pg.Pool(postgresPoolConfig(databaseUrl))
  const prisma = new PostgresPrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) })
  // The one place the two generated clients meet: they come from the same models (kept in step
  // by test/db/postgres.test.ts) and have the same API, but TypeScript sees two unrelated classes
  // (each has its own provider-specific internals). The repositories are typed against the
  // SQLite client, so the PostgreSQL one is handed over as that type.
  return prisma as unknown as PrismaClient
}
