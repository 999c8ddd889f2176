import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

/** GET /api/health: 200 when the database answers, 503 otherwise (for load balancers and the container healthcheck). */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  const Health = Type.Object({ status: Type.String(), database: Type.String() })
  fastify.get('/', {
    config: { public: true },
    schema: { tags: ['health'], summary: 'Liveness and database reachability.', response: { 200: { ...Health, description: 'Up; the database answers' }, 503: { ...Health, description: 'The database does not answer' } } }
  }, async function show (request, reply) {
    try {
      await fastify.prisma.$queryRaw`SELECT 1`
      return { status: 'ok', database: 'ok' }
    } catch (err) {
      request.log.error({ err }, 'health check: database unreachable')
      return reply.code(503).send({ status: 'unavailable', database: 'unreachable' })
    }
  })
}

export default health
