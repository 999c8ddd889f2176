import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { CsrfField } from '../../schemas/common.ts'
import { DobInput, NameInput, PasswordInput } from '../../schemas/users.ts'
import { InputError } from '../../lib/errors.ts'
import { toPublicUser } from '../../plugins/app/users-repository.ts'
import { credentialAttempts } from '../../lib/rate-limits.ts'
import { toSessionView } from '../../lib/session-view.ts'
import { memoizeByObject } from '../../lib/memo.ts'
import type { Session } from '../../generated/prisma/client.ts'

const dateText = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC'

/** The signed-in user's own page: details, password, active sessions. */
const profile: FastifyPluginAsyncTypebox = async (fastify) => {
  const { usersRepository, sessionsRepository, passwordHasher } = fastify

  // A session row as the page lists it, made once per row (rows are replaced, never changed in
  // place, and the list comes from the session cache), as this device and as another one.
  const sessionRows = memoizeByObject((s: Session) => {
    const view = { ...toSessionView(s, fastify.auth.sessionHandle(s.id), ''), signedInAtText: dateText(s.authenticatedAt), lastSeenAtText: dateText(s.lastSeenAt) }
    return { other: { ...view, current: false }, current: { ...view, current: true } }
  })

  async function render (request: FastifyRequest, reply: FastifyReply, extra: { values?: Record<string, string>, errors?: Record<string, string> } = {}) {
    const current = request.user!
    // The row authentication loaded with the session (no second read): any change to this user
    // on this instance drops it from the session cache, so it is never staler than the session.
    const user = request.account!
    const publicUser = toPublicUser(user)
    const sessions = (await sessionsRepository.listActiveForUser(user.id))
      .map(s => s.id === current.sessionId ? sessionRows(s).current : sessionRows(s).other)
    return reply.viewAsync('pages/profile/show', {
      user: publicUser,
      sessions,
      values: extra.values ?? { name: publicUser.name, dob: publicUser.dob ?? '' },
      errors: extra.errors ?? {}
    })
  }

  fastify.get('/', async function show (request, reply) {
    return render(request, reply)
  })

  fastify.post('/', {
    bodyLimit: 16 * 1024,
    schema: {
      body: Type.Object({ name: NameInput, dob: Type.Optional(DobInput), _csrf: CsrfField }, { additionalProperties: false })
    }
  }, async function update (request, reply) {
    const { name, dob } = request.body
    try {
      await usersRepository.update(request.user!.id, { name, dob: dob ?? null })
    } catch (err) {
      if (err instanceof InputError) {
        reply.code(422)
        return render(request, reply, { values: { name, dob: dob ?? '' }, errors: err.fields })
      }
      throw err
    }
    reply.flash('success', 'Your details were saved.')
    return reply.redirect('/profile', 303)
  })

  // The password is a nested resource of the profile (POST /profile/password).
  fastify.post('/password', {
    bodyLimit: 16 * 1024,
    config: {
      rateLimit: credentialAttempts(fastify.config)
    },
    schema: {
      body: Type.Object({
        username: Type.Optional(Type.String({ maxLength: 100 })),
        currentPassword: PasswordInput,
        newPassword: PasswordInput,
        _csrf: CsrfField
      }, { additionalProperties: false })
    }
  }, async function updatePassword (request, reply) {
    const current = request.user!
    const user = await usersRepository.findById(current.id)
    if (user === null || !await passwordHasher.verify(user.passwordHash, request.body.currentPassword)) {
      reply.code(422)
      return render(request, reply, { errors: { currentPassword: 'That is not your current password.' } })
    }
    try {
      await usersRepository.update(user.id, { password: request.body.newPassword })
    } catch (err) {
      if (err instanceof InputError) {
        reply.code(422)
        return render(request, reply, { errors: { newPassword: err.fields.password ?? err.message } })
      }
      throw err
    }
    const others = await fastify.auth.renewAfterPasswordChange(request, reply, user)
    request.log.info({ userId: user.id, revokedSessions: others }, 'password changed')
    await fastify.auditLog.record(request, 'password_changed', { actor: user, target: user, detail: { otherSessionsEnded: others } })
    reply.flash('success', others === 0
      ? 'Password changed.'
      : `Password changed. ${others === 1 ? 'Your other session was' : `Your ${others} other sessions were`} signed out.`)
    return reply.redirect('/profile', 303)
  })

  // After a failed change the address bar shows /profile/password; reloading it lands here.
  fastify.get('/password', async function showPassword (_request, reply) {
    return reply.redirect('/profile', 303)
  })
}

export default profile
