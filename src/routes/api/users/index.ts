import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { errorResponses } from '../../../schemas/common.ts'
import {
  CreateUserSchema, DeleteUserSchema, PublicUserSchema, UpdateUserSchema, USER_ID, UserIdParams, UserRowSchema,
  type UpdateUser
} from '../../../schemas/users.ts'
import { toPublicUser, type User } from '../../../plugins/app/users-repository.ts'
import { ForbiddenError, InputError, NotFoundError, SelfAdminChangeError, SignupDisabledError } from '../../../lib/errors.ts'
import { credentialAttempts, passwordChangeAttempts } from '../../../lib/rate-limits.ts'

const signedIn = [{ cookieAuth: [] }]

/**
 * /api/users, with the Flask original's rules: create is public (sign-up), the list is for
 * anyone signed in (each row says whether the caller may change it), update is for the owner
 * or an Admin (role by Admin only), delete is Admin only. `/api/users/:id` offers the same
 * actions addressed by id.
 */
const users: FastifyPluginAsyncTypebox = async (fastify) => {
  const { usersRepository, sessionsRepository, passwordHasher, auditLog, config } = fastify

  async function findTarget (request: FastifyRequest, by: { id?: number, uid?: string }): Promise<User> {
    const user = by.id !== undefined
      ? await usersRepository.findById(by.id)
      : by.uid !== undefined ? await usersRepository.findByUid(by.uid) : await usersRepository.findById(request.user!.id)
    if (user === null) throw new NotFoundError('User')
    return user
  }

  /** The update rules, shared by PUT /api/users and PUT /api/users/:id. */
  async function update (request: FastifyRequest, reply: FastifyReply, target: User, body: UpdateUser) {
    const caller = request.user!
    const isSelf = target.id === caller.id
    const isAdmin = caller.role === 'Admin'
    if (!isSelf && !isAdmin) throw new ForbiddenError()
    if (body.role !== undefined && body.role !== target.role) {
      if (!isAdmin) throw new ForbiddenError()
      if (isSelf) throw new SelfAdminChangeError()
    }
    if (body.password !== undefined && isSelf) {
      if (body.currentPassword === undefined) throw new InputError({ currentPassword: 'currentPassword is required to change your own password.' })
      if (!await passwordHasher.verify(target.passwordHash, body.currentPassword)) throw new InputError({ currentPassword: 'currentPassword is not your current password.' })
    }
    const updated = await usersRepository.update(target.id, {
      name: body.name, dob: body.dob, hashmap: body.hashmap, role: body.role, password: body.password
    })
    if (body.password !== undefined) {
      const others = await fastify.auth.renewAfterPasswordChange(request, reply, updated)
      await auditLog.record(request, 'password_changed', { target, detail: { otherSessionsEnded: others } })
    }
    if (body.role !== undefined && body.role !== target.role) {
      // Their sessions end: they sign in again under the new role.
      await sessionsRepository.revokeAllForUser(target.id)
      await auditLog.record(request, 'role_changed', { target, detail: { from: target.role, to: body.role } })
    }
    request.log.info({ userId: target.id, fields: Object.keys(body).filter(k => k !== 'password' && k !== 'currentPassword') }, 'user updated')
    return toPublicUser(updated)
  }

  async function destroy (request: FastifyRequest, target: User) {
    if (request.user!.role !== 'Admin') throw new ForbiddenError()
    if (target.id === request.user!.id) throw new SelfAdminChangeError()
    await usersRepository.delete(target.id)
    request.log.info({ userId: target.id }, 'user deleted')
    await auditLog.record(request, 'user_deleted', { target })
    return { message: `Deleted user ${target.uid}` }
  }

  fastify.get('/', {
    schema: {
      tags: ['users'],
      summary: 'All users; `access` says whether the caller may change each (rw) or only read it (ro).',
      security: signedIn,
      response: { 200: Type.Array(UserRowSchema, { description: 'All users' }), ...errorResponses(401) }
    }
  }, async function index (request) {
    const caller = request.user!
    return (await usersRepository.list()).map(u => ({
      ...toPublicUser(u),
      access: caller.role === 'Admin' || u.id === caller.id ? 'rw' as const : 'ro' as const
    }))
  })

  fastify.post('/', {
    bodyLimit: 16 * 1024,
    config: {
      public: true,
      rateLimit: credentialAttempts(fastify.config)
    },
    schema: {
      tags: ['users'],
      summary: 'Create an account (public sign-up, unless SIGNUP_ENABLED=false). Does not sign in.',
      body: CreateUserSchema,
      response: { 201: { ...PublicUserSchema, description: 'The new user' }, ...errorResponses(400, 403, 409, 415, 429) }
    }
  }, async function create (request, reply) {
    if (!config.signupEnabled) throw new SignupDisabledError()
    const { uid, name, password, dob, hashmap } = request.body
    const user = await usersRepository.create({ uid, name, password, dob, hashmap })
    request.log.info({ userId: user.id }, 'user created')
    await auditLog.record(request, 'user_created', { actor: request.user ?? user, target: user, detail: { via: 'api' } })
    return reply.code(201).send(toPublicUser(user))
  })

  fastify.put('/', {
    bodyLimit: 16 * 1024,
    config: { rateLimit: passwordChangeAttempts(config) },
    schema: {
      tags: ['users'],
      summary: 'Update a user named by `uid` (default: yourself). Owner or Admin; `role` by Admin only.',
      security: signedIn,
      body: UpdateUserSchema,
      response: { 200: { ...PublicUserSchema, description: 'The updated user' }, ...errorResponses(400, 401, 403, 404, 409, 415, 429) }
    }
  }, async function updateByUid (request, reply) {
    return update(request, reply, await findTarget(request, { uid: request.body.uid }), request.body)
  })

  fastify.delete('/', {
    bodyLimit: 4 * 1024,
    schema: {
      tags: ['users'],
      summary: 'Delete the user named by `uid`. Admin only.',
      security: signedIn,
      'x-admin': true,
      body: DeleteUserSchema,
      response: { 200: Type.Object({ message: Type.String() }, { description: 'Deleted' }), ...errorResponses(400, 401, 403, 404, 409, 415) }
    }
  }, async function destroyByUid (request) {
    if (request.user!.role !== 'Admin') throw new ForbiddenError()
    return destroy(request, await findTarget(request, { uid: request.body.uid }))
  })

  fastify.get(`/${USER_ID}`, {
    schema: {
      tags: ['users'],
      summary: 'One user by id.',
      security: signedIn,
      params: UserIdParams,
      response: { 200: { ...UserRowSchema, description: 'The user' }, ...errorResponses(400, 401, 404) }
    }
  }, async function show (request) {
    const caller = request.user!
    const user = await findTarget(request, { id: request.params.id })
    return { ...toPublicUser(user), access: caller.role === 'Admin' || user.id === caller.id ? 'rw' as const : 'ro' as const }
  })

  fastify.put(`/${USER_ID}`, {
    bodyLimit: 16 * 1024,
    config: { rateLimit: passwordChangeAttempts(config) },
    schema: {
      tags: ['users'],
      summary: 'Update a user by id. Owner or Admin; `role` by Admin only.',
      security: signedIn,
      params: UserIdParams,
      // Type.Omit drops `additionalProperties: false`; restate it so unknown fields stay a 400.
      body: Type.Omit(UpdateUserSchema, ['uid'], { additionalProperties: false }),
      response: { 200: { ...PublicUserSchema, description: 'The updated user' }, ...errorResponses(400, 401, 403, 404, 409, 415, 429) }
    }
  }, async function updateById (request, reply) {
    const caller = request.user!
    // Check the right before the lookup, so ids of other users answer alike whether they exist or not.
    if (request.params.id !== caller.id && caller.role !== 'Admin') throw new ForbiddenError()
    return update(request, reply, await findTarget(request, { id: request.params.id }), request.body)
  })

  fastify.delete(`/${USER_ID}`, {
    schema: {
      tags: ['users'],
      summary: 'Delete a user by id. Admin only.',
      security: signedIn,
      'x-admin': true,
      params: UserIdParams,
      response: { 200: Type.Object({ message: Type.String() }, { description: 'Deleted' }), ...errorResponses(400, 401, 403, 404, 409) }
    }
  }, async function destroyById (request) {
    if (request.user!.role !== 'Admin') throw new ForbiddenError()
    return destroy(request, await findTarget(request, { id: request.params.id }))
  })
}

export default users
