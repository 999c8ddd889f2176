import type { FastifyInstance } from 'fastify'
import { errorBody } from '../../lib/error-handler.ts'

/** Unknown paths under /api answer JSON, not the HTML 404 page. (A plugin here gets the /api prefix; autohooks do not.) */
export default async function apiNotFound (fastify: FastifyInstance) {
  fastify.setNotFoundHandler(async function notFound (_request, reply) {
    return reply.code(404).send(errorBody(404, 'No such API route.'))
  })
}
