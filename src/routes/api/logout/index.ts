import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

/** POST /api/logout: revokes the session and expires the cookie. Idempotent. */
const logout: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/', {
    config: { public: true },
    schema: {
      tags: ['auth'],
      summary: 'Sign out: revokes the session and clears the cookie.',
      response: { 200: Type.Object({ message: Type.String() }, { description: 'Signed out' }) }
    }
  }, async function destroy (request, reply) {
    if (request.user !== null) await fastify.auditLog.record(request, 'sign_out', { target: request.user })
    await fastify.auth.signOut(request, reply)
    return { message: 'Signed out' }
  })
}

export default logout
