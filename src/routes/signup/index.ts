import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CsrfField } from '../../schemas/common.ts'
import { DobInput, NameInput, PasswordInput, UidInput } from '../../schemas/users.ts'
import { InputError, SignupDisabledError, UidTakenError } from '../../lib/errors.ts'
import { credentialAttempts } from '../../lib/rate-limits.ts'

/** Public sign-up (switched off with SIGNUP_ENABLED=false); a new account is signed in at once. */
const signup: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config } = fastify

  fastify.addHook('onRequest', async function signupEnabled () {
    if (!config.signupEnabled) throw new SignupDisabledError()
  })

  fastify.get('/', async function newUser (request, reply) {
    if (request.user !== null) return reply.redirect('/profile', 303)
    return reply.viewAsync('pages/signup/new', { values: {}, errors: {} })
  })

  fastify.post('/', {
    bodyLimit: 16 * 1024,
    config: {
      rateLimit: credentialAttempts(fastify.config)
    },
    schema: {
      body: Type.Object({
        name: NameInput,
        uid: UidInput,
        password: PasswordInput,
        dob: Type.Optional(DobInput),
        _csrf: CsrfField
      }, { additionalProperties: false })
    }
  }, async function create (request, reply) {
    const { name, uid, password, dob } = request.body
    const values = { name, uid, dob }
    try {
      const user = await fastify.usersRepository.create({ name, uid, password, dob: dob ?? null })
      await fastify.auditLog.record(request, 'user_created', { actor: user, target: user, detail: { via: 'signup' } })
      await fastify.auth.signIn(reply, user, { userAgent: request.headers['user-agent'] ?? '', ip: request.ip })
      reply.flash('success', `Welcome, ${user.name}. Your account is ready.`)
      return reply.redirect('/profile', 303)
    } catch (err) {
      if (err instanceof InputError) return reply.code(422).viewAsync('pages/signup/new', { values, errors: err.fields })
      if (err instanceof UidTakenError) return reply.code(422).viewAsync('pages/signup/new', { values, errors: { uid: err.message } })
      throw err
    }
  })
}

export default signup
