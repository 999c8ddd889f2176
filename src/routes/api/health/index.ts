import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'

const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unavailable')], {
    description: 'ok: everything answers; degraded: serving, but Redis is unreachable; unavailable: the database does not answer'
  }),
  database: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
  redis: Type.Union([Type.Literal('ok'), Type.Literal('unreachable'), Type.Literal('not configured')], {
    description: 'unreachable: rate limits and sign-in throttling are per instance, and sessions are read from the database on every request, until it is back'
  })
})

/**
 * GET /api/health: 200 while this instance can serve (the database answers), 503 otherwise, for
 * load balancers and the container healthcheck. A Redis outage is reported (`degraded`) but is
 * not a reason to take the instance out of rotation: it serves correctly without Redis.
 */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    config: { public: true },
    schema: {
      tags: ['health'],
      summary: 'Liveness, database and Redis reachability.',
      response: {
        200: { ...Health, description: 'Serving (status ok or degraded)' },
        503: { ...Health, description: 'The database does not answer' }
      }
    }
  }, async function show (request, reply) {
    const { redis } = fastify
    const redisState: Static<typeof Health>['redis'] = redis === null ? 'not configured' : redis.available && redis.subscribed ? 'ok' : 'unreachable'
    try {
      await fastify.prisma.$queryRaw`SELECT 1`
    } catch (err) {
      request.log.error({ err }, 'health check: database unreachable')
      return reply.code(503).send({ status: 'unavailable' as const, database: 'unreachable' as const, redis: redisState })
    }
    return { status: redisState === 'unreachable' ? 'degraded' as const : 'ok' as const, database: 'ok' as const, redis: redisState }
  })
}

export default health
