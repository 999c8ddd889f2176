import fp from 'fastify-plugin'
import { createPrismaClient, type PrismaClient } from '../../db/client.ts'

declare module 'fastify' {
  interface FastifyInstance {
    prisma: PrismaClient
  }
}

/** The one Prisma client of the app, disconnected when the server closes. */
export default fp(async function prisma (fastify) {
  const client = await createPrismaClient(fastify.config.databaseUrl)
  fastify.decorate('prisma', client)
  fastify.addHook('onClose', async () => {
    await client.$disconnect()
  })
}, { name: 'prisma' })
