import fp from 'fastify-plugin'
import type { CookieSerializeOptions } from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createHmac } from 'node:crypto'
import type { Session, User } from '../../generated/prisma/client.ts'
import { deriveKey } from '../../lib/keys.ts'
import { setBounded } from '../../lib/memo.ts'
import type { SessionWithUser } from './sessions-repository.ts'
import { normalizeUid } from './users-repository.ts'
import { ForbiddenError, UnauthorizedError } from '../../lib/errors.ts'
import { returnTo } from '../../lib/next-path.ts'
import type { Role } from '../../schemas/users.ts'

/** Who is signed in, as every handler and template sees it. The role comes from the database. */
export interface CurrentUser {
  id: number
  uid: string
  name: string
  role: Role
  /** The Session row (= token `jti`) this request came with, or its renewal. */
  sessionId: string
  /**
   * Stable for one sign-in across token renewals (user id + sign-in time): CSRF tokens are bound
   * to it, so a renewal does not expire the forms already on screen.
   */
  signInId: string
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string, jti: string }
    user: CurrentUser | null
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The signed-in user's row, loaded with the session that authenticated this request (from
     * the session cache: forgotten at once on any change to the user or their sessions on this
     * instance, at most SESSION_CACHE_MS old otherwise). Null when signed out. It holds the
     * password hash: pass `toPublicUser(request.account)` to templates, never the row itself.
     */
    account: User | null
  }
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

export type SignInResult =
  | { outcome: 'signed_in', user: User }
  | { outcome: 'throttled', retryAfterSeconds: number }
  | { outcome: 'bad_credentials' }

interface Verified {
  session: SessionWithUser
  user: CurrentUser
  /** The token should be replaced: past half its life, or signed with an older key. */
  renew: boolean
}

// Refresh `lastSeenAt` at most this often per session: a write on every request would cost more than it tells.
const TOUCH_INTERVAL_MS = 60_000
// fast-jwt checks `iat` only against maxAge, so a token "issued" in the future would outlive it.
const MAX_CLOCK_SKEW_MS = 30_000
const MAX_REMEMBERED_HANDLES = 10_000
// Ours are about 300 characters: a longer cookie is refused before any decoding or hashing.
const MAX_TOKEN_LENGTH = 1024

const metaOf = (request: FastifyRequest): SignInMeta => ({ userAgent: request.headers['user-agent'] ?? '', ip: request.ip })

function currentUser (session: SessionWithUser): CurrentUser {
  const { user } = session
  return { id: user.id, uid: user.uid, name: user.name, role: user.role, sessionId: session.id, signInId: `${user.id}.${session.authenticatedAt.getTime()}` }
}

export function createAuth (fastify: FastifyInstance) {
  const { config, usersRepository, sessionsRepository, passwordHasher, loginThrottle, auditLog } = fastify

  /** The audit row of a failed attempt: whom it aimed at (normalised; no id for unknown ones) and why. */
  async function recordFailure (request: FastifyRequest, uid: string, account: User | null, reason: 'bad_credentials' | 'throttled') {
    request.log.info({ uid, reason }, 'sign-in failed')
    await auditLog.record(request, 'sign_in_failed', { target: { id: account?.id ?? null, uid: account?.uid ?? normalizeUid(uid) }, detail: { reason } })
  }
  const cookieOptions: CookieSerializeOptions = {
    path: '/',
    httpOnly: true,
    sameSite: config.cookie.sameSite,
    secure: config.cookie.secure
  }
  // Key rotation: the newest key signs (fastify.jwt); tokens from older keys still verify until
  // they are renewed, which happens on their first use.
  const olderKeys = config.jwt.secrets.slice(1)
  const handleKey = deriveKey(config.jwt.secret, 'session-handle')
  // A handle is a fixed function of the session id: remembered rather than recomputed (an HMAC)
  // for every row of every /profile and /api/sessions. Knowing it reveals nothing more.
  const handles = new Map<string, string>()

  type Claims = { sub?: unknown, jti?: unknown, iat?: unknown, exp?: unknown }
  function verifyToken (token: string): { claims: Claims, currentKey: boolean } | null {
    try {
      return { claims: fastify.jwt.verify<Claims>(token), currentKey: true }
    } catch (err) {
      if ((err as { code?: string }).code !== 'FAST_JWT_INVALID_SIGNATURE') return null
    }
    for (const key of olderKeys) {
      try {
        return { claims: fastify.jwt.verify<Claims>(token, { key }), currentKey: false }
      } catch {}
    }
    return null
  }

  /** Signs a token for a session row and sets it as the cookie; both end when the row does. */
  function issueToken (reply: FastifyReply, session: Session): void {
    const seconds = Math.max(1, Math.round((session.expiresAt.getTime() - Date.now()) / 1000))
    const token = fastify.jwt.sign({ sub: String(session.userId), jti: session.id }, { expiresIn: `${seconds}s` })
    // A response carrying a session token is never cached (SECURITY.md S14): the onSend hook
    // below makes every response that sets a cookie no-store.
    reply.setCookie(config.cookie.name, token, { ...cookieOptions, maxAge: seconds })
  }

  return {
    cookieName: config.cookie.name,

    /**
     * A sign-in attempt, start to end, for the form and the API alike:
     * 1. the account's wait (per-account throttle) comes first: during it no password is
     *    checked, not even the right one;
     * 2. the password: unknown user ids cost the same hashing and get the same answer;
     * 3. signed in: a new session and cookie, the account's failures forgotten.
     * Every outcome is written to the audit trail.
     */
    async attemptSignIn (request: FastifyRequest, reply: FastifyReply, uid: string, password: string): Promise<SignInResult> {
      const verdict = await loginThrottle.attempt(uid)
      if (!verdict.allowed) {
        const account = await usersRepository.findByUid(uid)
        await recordFailure(request, uid, account, 'throttled')
        return { outcome: 'throttled', retryAfterSeconds: verdict.retryAfterSeconds }
      }
      const account = await usersRepository.findByUid(uid)
      const verified = account === null
        ? await passwordHasher.verifyDummy(password).then(() => false)
        : await passwordHasher.verify(account.passwordHash, password)
      if (account === null || !verified) {
        const unsupported = account === null ? null : passwordHasher.unsupportedReason(account.passwordHash)
        if (account !== null && unsupported !== null) {
          // The stored hash can never match (malformed, or a format this app does not read): the
          // person gets the usual answer; Admins see why on /audit. Never the hash itself.
          request.log.warn({ userId: account.id, problem: unsupported }, 'sign-in failed: unsupported password hash')
          await auditLog.record(request, 'sign_in_failed', { target: { id: account.id, uid: account.uid }, detail: { reason: 'unsupported_hash', problem: unsupported } })
        } else {
          await recordFailure(request, uid, account, 'bad_credentials')
        }
        return { outcome: 'bad_credentials' }
      }
      await loginThrottle.succeeded(uid)
      if (passwordHasher.needsRehash(account.passwordHash)) {
        // An imported (Werkzeug) or older-cost hash becomes argon2id now that the password is
        // known; only if it is still the hash just checked (a password change may have won).
        try {
          const upgraded = await usersRepository.upgradePasswordHash(account.id, account.passwordHash, await passwordHasher.hash(password))
          if (upgraded) request.log.info({ userId: account.id }, 'password hash upgraded to argon2id')
        } catch (err) {
          request.log.error({ err, userId: account.id }, 'could not upgrade the password hash')
        }
      }
      await this.signIn(reply, account, metaOf(request))
      await auditLog.record(request, 'sign_in', { actor: account })
      request.log.info({ userId: account.id }, 'signed in')
      return { outcome: 'signed_in', user: account }
    },

    /** Starts a session: a Session row, a signed token naming it, and the cookie carrying the token. */
    async signIn (reply: FastifyReply, user: User, meta: SignInMeta): Promise<void> {
      issueToken(reply, await sessionsRepository.create({ userId: user.id, ...meta }))
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
        await this.signIn(reply, user, metaOf(request))
      }
      return others
    },

    clearCookie (reply: FastifyReply): void {
      reply.clearCookie(config.cookie.name, cookieOptions)
    },

    /**
     * An opaque name for a session, for pages and the API to refer to one device without
     * showing its token id (the `jti` never appears in HTML or URLs).
     */
    sessionHandle (sessionId: string): string {
      let handle = handles.get(sessionId)
      if (handle === undefined) {
        handle = createHmac('sha256', handleKey).update(sessionId).digest('base64url').slice(0, 22)
        setBounded(handles, sessionId, handle, MAX_REMEMBERED_HANDLES)
      }
      return handle
    },

    /**
     * The session for a token, or null for any problem: bad signature or algorithm, wrong
     * issuer or audience, missing claims, a future `iat`, a revoked, replaced, expired, idle or
     * too old session, a deleted user.
     */
    async authenticate (token: string): Promise<Verified | null> {
      if (token.length > MAX_TOKEN_LENGTH) return null
      const verified = verifyToken(token)
      if (verified === null) return null
      const { claims } = verified
      if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string' || claims.jti.length > 64) return null
      if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') return null
      const now = Date.now()
      if (claims.iat * 1000 > now + MAX_CLOCK_SKEW_MS) return null
      const session = await sessionsRepository.findActive(claims.jti)
      if (session === null || String(session.userId) !== claims.sub) return null
      if (now - session.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) await sessionsRepository.touch(session.id)
      const halfLife = (claims.exp - claims.iat) * 500
      const absoluteEnd = session.authenticatedAt.getTime() + config.session.maxAgeSeconds * 1000
      // Renew when it buys time (never past the absolute limit) and no other request already did.
      const renew = session.rotatedAt === null &&
        (!verified.currentKey || (now - claims.iat * 1000 > halfLife && absoluteEnd > claims.exp * 1000))
      return { session, user: currentUser(session), renew }
    },

    /**
     * Sliding renewal: a new row and token (new jti) replace the current ones. The old token
     * keeps working for a short grace period; the sign-in time, and so the absolute limit, carry over.
     */
    async renew (request: FastifyRequest, reply: FastifyReply, session: SessionWithUser): Promise<CurrentUser | null> {
      const next = await sessionsRepository.rotate(session, metaOf(request))
      if (next === null) return null
      issueToken(reply, next)
      return { ...currentUser(session), sessionId: next.id }
    }
  }
}

export default fp(async function auth (fastify) {
  const auth = createAuth(fastify)
  fastify.decorate('auth', auth)
  fastify.decorateRequest('account', null)

  // "Silent" authentication for every request: a valid cookie sets request.user; anything
  // wrong with it clears the cookie and leaves the visitor signed out. Guards decide the rest.
  // A callback hook, so that a request without a cookie (every signed-out visitor, every
  // file) goes on at once, with no promise to settle (see routes/home.ts).
  fastify.addHook('onRequest', function authenticate (request, reply, done) {
    const token = request.cookies[auth.cookieName]
    if (token === undefined || token === '') return done()
    signInFromCookie(request, reply, token).then(() => done(), done)
  })

  async function signInFromCookie (request: FastifyRequest, reply: FastifyReply, token: string): Promise<void> {
    const verified = await auth.authenticate(token)
    if (verified === null) {
      auth.clearCookie(reply)
      return
    }
    const user = verified.renew ? await auth.renew(request, reply, verified.session) ?? verified.user : verified.user
    request.user = user
    request.account = verified.session.user
    reply.locals.currentUser = user
  }

  // Pages and data for a signed-in user must not be kept by browsers or shared caches
  // (and the back button after sign-out must not show them). A response its route marked
  // `public` (the files of public/, the same bytes for everyone) keeps its own caching: made
  // no-store, a signed-in browser downloaded the stylesheet again on every page. A response that
  // sets a cookie is never stored, whatever its route says: a session renewed (or a bad cookie
  // cleared) on a request for a public file must not reach a shared cache with its Set-Cookie.
  // (@fastify/cookie's onSend, registered earlier, has already written Set-Cookie.)
  fastify.addHook('onSend', function noStoreWhenPersonal (request, reply, _payload, done) {
    if (isPersonal(request, reply)) reply.header('cache-control', 'no-store')
    done()
  })

  function isPersonal (request: FastifyRequest, reply: FastifyReply): boolean {
    if (reply.hasHeader('set-cookie')) return true
    if (request.user === null) return false
    const cacheControl = reply.getHeader('cache-control')
    return !(typeof cacheControl === 'string' && cacheControl.startsWith('public'))
  }

  fastify.decorate('requireUser', async function requireUser (request: FastifyRequest, reply: FastifyReply) {
    if (request.user !== null) return
    return reply.redirect(`/login?next=${returnTo(request.url)}`, 303)
  })

  fastify.decorate('requireAdmin', async function requireAdmin (request: FastifyRequest, _reply: FastifyReply) {
    if (request.user === null) throw new UnauthorizedError()
    if (request.user.role !== 'Admin') throw new ForbiddenError()
  })
}, { name: 'auth', dependencies: ['users-repository', 'sessions-repository', 'password-hasher', 'login-throttle', 'audit-log'] })
