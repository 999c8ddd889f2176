import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CsrfField } from '../../../schemas/common.ts'

const HandleParams = Type.Object({ handle: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' }) }, { additionalProperties: false })
const CsrfBody = Type.Object({ _csrf: CsrfField }, { additionalProperties: false })

/**
 * The profile's active sessions, as nested resources: sign one device out
 * (POST /profile/sessions/:handle/revoke) or every other one (POST /profile/sessions/others/revoke).
 */
const sessions: FastifyPluginAsyncTypebox = async (fastify) => {
  const { sessionsRepository, auth, auditLog } = fastify

  fastify.post('/:handle/revoke', {
    bodyLimit: 4 * 1024,
    schema: { params: HandleParams, body: CsrfBody }
  }, async function revoke (request, reply) {
    const current = request.user!
    const session = (await sessionsRepository.listActiveForUser(current.id))
      .find(s => auth.sessionHandle(s.id) === request.params.handle)
    if (session === undefined) {
      reply.flash('info', 'That session had already ended.')
      return reply.redirect('/profile', 303)
    }
    if (session.id === current.sessionId) {
      // Revoking this very session is signing out.
      await auth.signOut(request, reply)
      await auditLog.record(request, 'sign_out', { target: current })
      return reply.redirect('/login?signed_out=1', 303)
    }
    await sessionsRepository.revoke(session.id)
    await auditLog.record(request, 'session_revoked', { target: current, detail: { sessions: 1 } })
    reply.flash('success', 'That session was signed out.')
    return reply.redirect('/profile', 303)
  })

  fastify.post('/others/revoke', {
    bodyLimit: 4 * 1024,
    schema: { body: CsrfBody }
  }, async function revokeOthers (request, reply) {
    const current = request.user!
    const count = await sessionsRepository.revokeAllForUser(current.id, current.sessionId)
    if (count > 0) await auditLog.record(request, 'session_revoked', { target: current, detail: { sessions: count } })
    reply.flash('success', count === 0
      ? 'No other sessions were signed in.'
      : `Signed out everywhere else (${count === 1 ? '1 session' : `${count} sessions`}).`)
    return reply.redirect('/profile', 303)
  })
}

export default sessions
