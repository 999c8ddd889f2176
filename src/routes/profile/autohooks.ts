import type { FastifyInstance } from 'fastify'

/** Everything under /profile needs a signed-in user. */
export default async function profileHooks (fastify: FastifyInstance) {
  fastify.addHook('onRequest', fastify.requireUser)
}
