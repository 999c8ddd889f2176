import type { FastifyInstance } from 'fastify'

/**
 * Everything under /audit is for Admins: signed-out visitors go to /login?next= (requireUser),
 * signed-in non-Admins get the 403 page (requireAdmin).
 */
export default async function auditHooks (fastify: FastifyInstance) {
  fastify.addHook('onRequest', fastify.requireUser)
  fastify.addHook('onRequest', fastify.requireAdmin)
}
