import type { FastifyInstance } from 'fastify'

/** Everything under /users needs a signed-in user; Admin-only routes add requireAdmin. */
export default async function usersHooks (fastify: FastifyInstance) {
  fastify.addHook('onRequest', fastify.requireUser)
}
