import fp from 'fastify-plugin'
import type { CookieSerializeOptions } from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { User } from '../../generated/prisma/client.ts'
import { ForbiddenError, UnauthorizedError } from '../../lib/errors.ts'
import { returnTo } from '../../lib/next-path.ts'
import type { Role } from '../../schemas/users.ts'

/** Who is signed in, as every handler and template sees it. The role comes from the database. */
export interface CurrentUser {
  id: number
  uid: string
  name: string
  role: Role
  sessionId: string
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string, jti: string }
    user: CurrentUser | null
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    auth: ReturnType<typeof createAuth>
    /** Hook for page scopes: signed-out visitors are sent to /login?next=<this page>. */
    requireUser: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** Hook for Admin-only routes: 401/redirect when signed out, 403 for other roles. */
    requireAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

export interface SignInMeta {
  userAgent: string
  ip: string
}

// Refresh `lastSeenAt` at most this often per session: a write on every request would cost more than it tells.
const TOUCH_INTERVAL_MS = 60_000
// fast-jwt checks `iat` only against maxAge, so a token "issued" in the future would outlive it.
const MAX_CLOCK_SKEW_MS = 30_000

export function createAuth (fastify: FastifyInstance) {
  const { config, usersRepository, sessionsRepository, passwordHasher } = fastify
  const cookieOptions: CookieSerializeOptions = {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: config.cookie.secure
  }

  return {
    cookieName: config.cookie.name,

    /**
     * The user for a sign-in attempt, or null. Unknown users cost the same hashing work as
     * known ones, so response times do not reveal which user ids exist.
     */
    async verifyCredentials (uid: string, password: string): Promise<User | null> {
      const user = await usersRepository.findByUid(uid)
      if (user === null) {
        await passwordHasher.verifyDummy(password)
        return null
      }
      return await passwordHasher.verify(user.passwordHash, password) ? user : null
    },

    /** Starts a session: a Session row, a signed token naming it, and the cookie carrying the token. */
    async signIn (reply: FastifyReply, user: User, meta: SignInMeta): Promise<void> {
      const session = await sessionsRepository.create({ userId: user.id, ttlSeconds: config.jwt.ttlSeconds, ...meta })
      const token = fastify.jwt.sign({ sub: String(user.id), jti: session.id })
      reply.setCookie(config.cookie.name, token, { ...cookieOptions, maxAge: config.jwt.ttlSeconds })
      // The response carrying a new session token is never cached (SECURITY.md S14).
      reply.header('cache-control', 'no-store')
    },

    /**
     * Ends the caller's session (revokes its row), expires the cookie, and asks the browser to
     * drop this site's cookies and cached pages (Clear-Site-Data).
     */
    async signOut (request: FastifyRequest, reply: FastifyReply): Promise<void> {
      if (request.user !== null) await sessionsRepository.revoke(request.user.sessionId)
      reply.clearCookie(config.cookie.name, cookieOptions)
      reply.header('clear-site-data', '"cache", "cookies"')
    },

    /**
     * After a password change: every session of the user ends, and this device gets a fresh
     * one (new jti and iat), so a stolen token of the old password stops working everywhere.
     * Returns how many other sessions were ended.
     */
    async renewAfterPasswordChange (request: FastifyRequest, reply: FastifyReply, user: User): Promise<number> {
      const current = request.user?.id === user.id ? request.user.sessionId : undefined
      const others = await sessionsRepository.revokeAllForUser(user.id, current)
      if (current !== undefined) {
        await sessionsRepository.revoke(current)
        await this.signIn(reply, user, { userAgent: request.headers['user-agent'] ?? '', ip: request.ip })
      }
      return others
    },

    clearCookie (reply: FastifyReply): void {
      reply.clearCookie(config.cookie.name, cookieOptions)
    },

    /**
     * The signed-in user for a token, or null for any problem: bad signature or algorithm,
     * wrong issuer or audience, missing claims, expired, revoked or unknown session, deleted user.
     */
    async authenticate (token: string): Promise<CurrentUser | null> {
      let payload: { sub?: unknown, jti?: unknown, iat?: unknown }
      try {
        payload = fastify.jwt.verify<{ sub?: unknown, jti?: unknown, iat?: unknown }>(token)
      } catch {
        return null
      }
      if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || payload.jti.length > 64) return null
      if (typeof payload.iat !== 'number' || payload.iat * 1000 > Date.now() + MAX_CLOCK_SKEW_MS) return null
      const session = await sessionsRepository.findActive(payload.jti)
      if (session === null || String(session.userId) !== payload.sub) return null
      if (Date.now() - session.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) {
        await sessionsRepository.touch(session.id)
      }
      const { user } = session
      return { id: user.id, uid: user.uid, name: user.name, role: user.role, sessionId: session.id }
    }
  }
}

export default fp(async function auth (fastify) {
  const auth = createAuth(fastify)
  fastify.decorate('auth', auth)

  // "Silent" authentication for every request: a valid cookie sets request.user; anything
  // wrong with it clears the cookie and leaves the visitor signed out. Guards decide the rest.
  fastify.addHook('onRequest', async function authenticate (request, reply) {
    const token = request.cookies[auth.cookieName]
    if (token === undefined || token === '') return
    const user = await auth.authenticate(token)
    if (user === null) {
      auth.clearCookie(reply)
      return
    }
    request.user = user
    reply.locals = { ...reply.locals, currentUser: user }
  })

  // Pages and data for a signed-in user must not be kept by browsers or shared caches
  // (and the back button after sign-out must not show them).
  fastify.addHook('onSend', async function noStoreForSignedIn (request, reply) {
    if (request.user !== null) reply.header('cache-control', 'no-store')
  })

  fastify.decorate('requireUser', async function requireUser (request: FastifyRequest, reply: FastifyReply) {
    if (request.user !== null) return
    return reply.redirect(`/login?next=${returnTo(request.url)}`, 303)
  })

  fastify.decorate('requireAdmin', async function requireAdmin (request: FastifyRequest, _reply: FastifyReply) {
    if (request.user === null) throw new UnauthorizedError()
    if (request.user.role !== 'Admin') throw new ForbiddenError()
  })
}, { name: 'auth', dependencies: ['users-repository', 'sessions-repository', 'password-hasher'] })
