import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaClient } from '../generated/prisma/client.ts'
import { sqliteFilePath } from './migrator.ts'

export type { PrismaClient }

/**
 * One Prisma client on a driver adapter (no native engine). SQLite is the embedded default;
 * its folder is created on first use.
 */
export async function createPrismaClient (databaseUrl: string): Promise<PrismaClient> {
  const file = sqliteFilePath(databaseUrl)
  if (file === null || file === ':memory:') {
    throw new Error('Only SQLite (DATABASE_URL=file:...) is supported by this build.')
  }
  mkdirSync(dirname(file), { recursive: true })
  const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: `file:${file}`, timeout: 5000 }) })
  // WAL lets readers run while a write is in progress; the setting is stored in the file.
  await prisma.$queryRaw`PRAGMA journal_mode = WAL`
  return prisma
}
