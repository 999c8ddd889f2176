import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CsrfField } from '../../schemas/common.ts'
import { PasswordInput, UidInput } from '../../schemas/users.ts'
import { safeNextPath } from '../../lib/next-path.ts'
import { credentialAttempts } from '../../lib/rate-limits.ts'
import { throttledMessage } from '../../plugins/app/login-throttle.ts'

const NextParam = Type.String({ maxLength: 2048 })
const FAILED = 'Incorrect user id or password.'

/**
 * The sign-in form (GET) and its handler (POST): a session cookie, then back to `next`.
 * Throttled per client IP (`credentialAttempts`) and per user id (`fastify.loginThrottle`).
 */
const login: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    // Links carry other query keys too (campaign tags…): they are ignored, not refused.
    schema: { querystring: Type.Object({ next: Type.Optional(NextParam), signed_out: Type.Optional(Type.String({ maxLength: 1 })) }) }
  }, async function newSession (request, reply) {
    const next = safeNextPath(request.query.next)
    if (request.user !== null) return reply.redirect(next ?? '/', 303)
    const notice = request.query.signed_out !== undefined
      ? 'You have been signed out.'
      : next !== null ? 'Please sign in to continue.' : null
    return reply.viewAsync('pages/login/new', { next, uid: '', notice })
  })

  fastify.post('/', {
    bodyLimit: 16 * 1024,
    config: {
      rateLimit: credentialAttempts(fastify.config)
    },
    schema: {
      body: Type.Object({
        uid: UidInput,
        password: PasswordInput,
        next: Type.Optional(NextParam),
        _csrf: CsrfField
      }, { additionalProperties: false })
    }
  }, async function create (request, reply) {
    const { uid, password } = request.body
    const next = safeNextPath(request.body.next)
    if (uid.trim() === '' || password === '') {
      return reply.code(422).viewAsync('pages/login/new', { next, uid, error: 'Enter your user id and password.' })
    }
    const result = await fastify.auth.attemptSignIn(request, reply, uid, password)
    if (result.outcome === 'throttled') {
      // The form again, saying how long to wait, so the visitor can retry from the same page.
      return reply.code(429).header('retry-after', String(result.retryAfterSeconds))
        .viewAsync('pages/login/new', { next, uid, error: throttledMessage(result.retryAfterSeconds) })
    }
    if (result.outcome === 'bad_credentials') {
      // The typed user id is kept; the password never comes back.
      return reply.code(401).viewAsync('pages/login/new', { next, uid, error: FAILED })
    }
    const { user } = result
    reply.flash('success', `Welcome back, ${user.name}.`)
    return reply.redirect(next ?? '/', 303)
  })
}

export default login
