import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CsrfField } from '../../schemas/common.ts'
import { RoleSchema, USER_ID, UserIdParams } from '../../schemas/users.ts'
import { NotFoundError, SelfAdminChangeError } from '../../lib/errors.ts'
import { toPublicUser } from '../../plugins/app/users-repository.ts'

/** The users list (everyone signed in) and the Admin actions on it. */
const users: FastifyPluginAsyncTypebox = async (fastify) => {
  const { usersRepository, sessionsRepository } = fastify

  fastify.get('/', async function index (request, reply) {
    const current = request.user!
    const isAdmin = current.role === 'Admin'
    const rows = (await usersRepository.list()).map(u => ({
      ...toPublicUser(u),
      access: isAdmin || u.id === current.id ? 'rw' : 'ro'
    }))
    return reply.viewAsync('pages/users/index', { users: rows, isAdmin })
  })

  // Role is a nested resource of a user: POST /users/:id/role.
  fastify.post(`/${USER_ID}/role`, {
    preHandler: fastify.requireAdmin,
    bodyLimit: 4 * 1024,
    schema: {
      params: UserIdParams,
      body: Type.Object({ role: RoleSchema, _csrf: CsrfField }, { additionalProperties: false })
    }
  }, async function updateRole (request, reply) {
    const { id } = request.params
    if (id === request.user!.id) throw new SelfAdminChangeError()
    const user = await usersRepository.findById(id)
    if (user === null) throw new NotFoundError('User')
    const article = request.body.role === 'Admin' ? 'an Admin' : 'a User'
    if (user.role === request.body.role) {
      reply.flash('info', `${user.uid} is already ${article}.`)
      return reply.redirect('/users', 303)
    }
    await usersRepository.update(id, { role: request.body.role })
    // Their sessions end: they sign in again under the new role.
    await sessionsRepository.revokeAllForUser(id)
    request.log.info({ userId: id, role: request.body.role }, 'role changed')
    await fastify.auditLog.record(request, 'role_changed', { target: user, detail: { from: user.role, to: request.body.role } })
    reply.flash('success', `${user.uid} is now ${article}.`)
    return reply.redirect('/users', 303)
  })

  // Deleting asks first (a page, so it works without JavaScript), then POSTs.
  fastify.get(`/${USER_ID}/delete`, {
    preHandler: fastify.requireAdmin,
    schema: { params: UserIdParams }
  }, async function confirmDestroy (request, reply) {
    const user = await usersRepository.findById(request.params.id)
    if (user === null) throw new NotFoundError('User')
    if (user.id === request.user!.id) throw new SelfAdminChangeError()
    return reply.viewAsync('pages/users/delete', { user: toPublicUser(user) })
  })

  fastify.post(`/${USER_ID}/delete`, {
    preHandler: fastify.requireAdmin,
    bodyLimit: 4 * 1024,
    schema: { params: UserIdParams, body: Type.Object({ _csrf: CsrfField }, { additionalProperties: false }) }
  }, async function destroy (request, reply) {
    const { id } = request.params
    if (id === request.user!.id) throw new SelfAdminChangeError()
    const user = await usersRepository.findById(id)
    if (user === null) throw new NotFoundError('User')
    await sessionsRepository.revokeAllForUser(id)
    await usersRepository.delete(id)
    request.log.info({ userId: id }, 'user deleted')
    await fastify.auditLog.record(request, 'user_deleted', { target: user })
    reply.flash('success', `${user.uid} was deleted.`)
    return reply.redirect('/users', 303)
  })
}

export default users
