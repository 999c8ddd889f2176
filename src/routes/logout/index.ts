import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CsrfField } from '../../schemas/common.ts'

/** Sign-out is a POST with a CSRF token (a link could be triggered by any page). */
const logout: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/', {
    bodyLimit: 4 * 1024,
    config: { csrf: false },
    // The token is checked only when someone is signed in: signing out nobody changes nothing,
    // so a second tab's stale "Sign out" button just lands on the sign-in page.
    preHandler: function csrfWhenSignedIn (request, reply, done) {
      if (request.user === null) return done()
      fastify.csrfProtection(request, reply, done)
    },
    schema: { body: Type.Object({ _csrf: Type.Optional(CsrfField) }, { additionalProperties: false }) }
  }, async function destroy (request, reply) {
    if (request.user !== null) await fastify.auditLog.record(request, 'sign_out', { target: request.user })
    await fastify.auth.signOut(request, reply)
    // Clear-Site-Data also drops the flash cookie, so the sign-in page says it from the URL.
    return reply.redirect('/login?signed_out=1', 303)
  })
}

export default logout
