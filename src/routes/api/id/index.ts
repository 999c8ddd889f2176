import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../../../schemas/common.ts'
import { PublicUserSchema } from '../../../schemas/users.ts'
import { toPublicUser } from '../../../plugins/app/users-repository.ts'
import { UnauthorizedError } from '../../../lib/errors.ts'

/** GET /api/id: the signed-in user. */
const id: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['users'],
      summary: 'The signed-in user.',
      security: [{ cookieAuth: [] }],
      response: { 200: { ...PublicUserSchema, description: 'The signed-in user' }, ...errorResponses(401) }
    }
  }, async function show (request) {
    // The user row verified with the session (cached with it): no second read. See ADR 0018.
    const user = request.account
    if (user === null) throw new UnauthorizedError()
    return toPublicUser(user)
  })
}

export default id
