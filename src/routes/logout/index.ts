import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CsrfField } from '../../schemas/common.ts'

/** Sign-out is a POST with a CSRF token (a link could be triggered by any page). */
const logout: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/', {
    bodyLimit: 4 * 1024,
    schema: { body: Type.Object({ _csrf: CsrfField }, { additionalProperties: false }) }
  }, async function destroy (request, reply) {
    const signedIn = request.user !== null
    await fastify.auth.signOut(request, reply)
    if (signedIn) reply.flash('info', 'You have been signed out.')
    return reply.redirect('/', 303)
  })
}

export default logout
