import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses } from '../../../schemas/common.ts'
import { PasswordInput, PublicUserSchema, UidInput } from '../../../schemas/users.ts'
import { toPublicUser } from '../../../plugins/app/users-repository.ts'
import { InvalidCredentialsError } from '../../../lib/errors.ts'
import { credentialAttempts } from '../../../lib/rate-limits.ts'

/** POST /api/authenticate {uid, password}: the Flask API's sign-in; sets the same cookie as the form. */
const authenticate: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/', {
    bodyLimit: 16 * 1024,
    config: {
      public: true,
      rateLimit: credentialAttempts(fastify.config)
    },
    schema: {
      tags: ['auth'],
      summary: 'Sign in; sets the session cookie.',
      body: Type.Object({ uid: UidInput, password: PasswordInput }, { additionalProperties: false }),
      response: {
        200: Type.Object({ message: Type.String(), user: PublicUserSchema }, { description: 'Signed in; the session cookie is set' }),
        ...errorResponses(400, 401, 415, 429)
      }
    }
  }, async function create (request, reply) {
    const user = await fastify.auth.verifyCredentials(request.body.uid, request.body.password)
    if (user === null) {
      request.log.info({ uid: request.body.uid }, 'sign-in failed')
      throw new InvalidCredentialsError()
    }
    await fastify.auth.signIn(reply, user, { userAgent: request.headers['user-agent'] ?? '', ip: request.ip })
    request.log.info({ userId: user.id }, 'signed in')
    return { message: `Authentication for ${user.uid} successful`, user: toPublicUser(user) }
  })
}

export default authenticate
