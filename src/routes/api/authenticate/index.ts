import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses } from '../../../schemas/common.ts'
import { PasswordInput, PublicUserSchema, UidInput } from '../../../schemas/users.ts'
import { toPublicUser } from '../../../plugins/app/users-repository.ts'
import { InvalidCredentialsError } from '../../../lib/errors.ts'
import { credentialAttempts } from '../../../lib/rate-limits.ts'
import { SignInThrottledError } from '../../../plugins/app/login-throttle.ts'

/**
 * POST /api/authenticate {uid, password}: the Flask API's sign-in; sets the same cookie as the
 * form. Throttled per client IP (`credentialAttempts`) and per user id (`fastify.loginThrottle`).
 */
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
    const { uid, password } = request.body
    const result = await fastify.auth.attemptSignIn(request, reply, uid, password)
    if (result.outcome === 'throttled') throw new SignInThrottledError(result.retryAfterSeconds)
    if (result.outcome === 'bad_credentials') throw new InvalidCredentialsError()
    const { user } = result
    return { message: `Authentication for ${user.uid} successful`, user: toPublicUser(user) }
  })
}

export default authenticate
