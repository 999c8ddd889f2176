import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses } from '../../../schemas/common.ts'
import { toSessionView } from '../../../lib/session-view.ts'
import { NotFoundError } from '../../../lib/errors.ts'

const SessionSchema = Type.Object({
  id: Type.String({ description: 'Opaque handle (not the token id)' }),
  signedInAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
  device: Type.String(),
  userAgent: Type.String(),
  ip: Type.String(),
  current: Type.Boolean()
})
const signedIn = [{ cookieAuth: [] }]

/** /api/sessions: your signed-in devices; sign one out, or all but this one. */
const sessions: FastifyPluginAsyncTypebox = async (fastify) => {
  const { sessionsRepository, auth, auditLog } = fastify

  fastify.get('/', {
    schema: {
      tags: ['sessions'],
      summary: 'Your active sessions (one per signed-in device), the current one marked.',
      security: signedIn,
      response: { 200: Type.Array(SessionSchema, { description: 'Active sessions' }), ...errorResponses(401) }
    }
  }, async function index (request) {
    const current = request.user!
    return (await sessionsRepository.listActiveForUser(current.id))
      .map(s => toSessionView(s, auth.sessionHandle(s.id), current.sessionId))
  })

  fastify.delete('/:handle', {
    schema: {
      tags: ['sessions'],
      summary: 'Sign one of your sessions out (yours: this one signs you out).',
      security: signedIn,
      params: Type.Object({ handle: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ message: Type.String() }, { description: 'Signed out' }), ...errorResponses(400, 401, 404) }
    }
  }, async function destroy (request, reply) {
    const current = request.user!
    const session = (await sessionsRepository.listActiveForUser(current.id))
      .find(s => auth.sessionHandle(s.id) === request.params.handle)
    if (session === undefined) throw new NotFoundError('Session')
    if (session.id === current.sessionId) {
      await auth.signOut(request, reply)
      await auditLog.record(request, 'sign_out', { target: current })
    } else {
      await sessionsRepository.revoke(session.id)
      await auditLog.record(request, 'session_revoked', { target: current, detail: { sessions: 1 } })
    }
    return { message: 'Session signed out' }
  })

  fastify.delete('/', {
    schema: {
      tags: ['sessions'],
      summary: 'Sign out everywhere else: every session but this one.',
      security: signedIn,
      response: { 200: Type.Object({ message: Type.String(), revoked: Type.Integer() }, { description: 'Other sessions signed out' }), ...errorResponses(401) }
    }
  }, async function destroyOthers (request) {
    const current = request.user!
    const revoked = await sessionsRepository.revokeAllForUser(current.id, current.sessionId)
    if (revoked > 0) await auditLog.record(request, 'session_revoked', { target: current, detail: { sessions: revoked } })
    return { message: 'Signed out everywhere else', revoked }
  })
}

export default sessions
