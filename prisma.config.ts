import { defineConfig } from 'prisma/config'

// Prisma 7 reads this file. `env('DATABASE_URL')` would throw when the variable is unset
// (even for `prisma generate`), so fall back to the embedded default.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: {
    path: 'prisma/migrations',
    seed: 'tsx prisma/seed.ts'
  },
  datasource: {
    url: process.env.DATABASE_URL ?? 'file:./instance/volumes/sqlite.db'
  }
})
