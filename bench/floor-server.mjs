#!/usr/bin/env node
/**
 * The "floor": the cheapest hand-written server that does the same work as the app's
 * GET /profile for a signed-in user, kept as plain JS (no build) so it measures Node + Fastify
 * and nothing else:
 *
 *   1. read the session cookie from the Cookie header (by hand);
 *   2. verify the JWT with fast-jwt: HS256 pinned, same key, same issuer/audience, same required
 *      claims and max age as the app (src/plugins/external/jwt.ts), plus the app's own checks
 *      (claim types, jti length, no `iat` in the future);
 *   3. ONE better-sqlite3 prepared statement for session + user by jti, with the app's checks
 *      (not revoked, not expired, not idle, not older than the absolute limit, user id = sub,
 *      a rotated row only within its grace period);
 *   4. a template literal for an HTML page of the same shape and size as the app's /profile
 *      (one session row), with the same escaping, an opaque session handle and a CSRF token
 *      (one HMAC each), as the real page needs them.
 *
 * A missing or bad cookie gets what the app gives: 303 to /login?next=/profile and the cookie
 * cleared. The database file is opened read-only (the app's once-a-minute `lastSeenAt` touch
 * and token renewal are not done here).
 *
 * Environment: FLOOR_DB_FILE (SQLite file, required), JWT_SECRET (the app's; the first key is
 * used), HOST (127.0.0.1), PORT (3100), COOKIE_NAME (__Host-token), JWT_TTL (28800),
 * SESSION_IDLE_TIMEOUT (7200), SESSION_MAX_AGE (604800).
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import { createVerifier } from 'fast-jwt'
import Fastify from 'fastify'

const env = process.env
if (!env.FLOOR_DB_FILE) throw new Error('FLOOR_DB_FILE is required')
const secret = (env.JWT_SECRET ?? '').split(',')[0].trim()
if (secret.length < 32) throw new Error('JWT_SECRET (the app\'s) is required')

const COOKIE_NAME = env.COOKIE_NAME ?? '__Host-token'
const TTL_S = Number(env.JWT_TTL ?? 28800)
const IDLE_MS = Number(env.SESSION_IDLE_TIMEOUT ?? 7200) * 1000
const MAX_AGE_MS = Number(env.SESSION_MAX_AGE ?? 604800) * 1000
const ISSUER = 'fastify-portfolio'
const MAX_CLOCK_SKEW_MS = 30_000
const ROTATION_GRACE_MS = 60_000

const verify = createVerifier({
  key: secret,
  algorithms: ['HS256'],
  allowedIss: ISSUER,
  allowedAud: ISSUER,
  requiredClaims: ['sub', 'iat', 'exp', 'jti', 'iss', 'aud'],
  maxAge: TTL_S * 1000
})

// Keys derived once, as the app does (HKDF of the secret per purpose).
const derive = purpose => Buffer.from(hkdfSync('sha256', secret, 'fastify-portfolio', purpose, 32))
const handleKey = derive('session-handle')
const csrfKey = derive('bench-floor-csrf')

const db = new Database(env.FLOOR_DB_FILE, { readonly: true, fileMustExist: true })
// Prisma stores DateTime as ISO text with '+00:00': compare in the same form.
const findActive = db.prepare(`
  SELECT s.id, s.userId, s.authenticatedAt, s.lastSeenAt, s.rotatedAt, s.userAgent, s.ip,
         u.uid, u.name, u.dob, u.role
  FROM "Session" s JOIN "User" u ON u.id = s.userId
  WHERE s.id = ? AND s.revokedAt IS NULL AND s.expiresAt > ? AND s.lastSeenAt > ? AND s.authenticatedAt > ?`)
const iso = ms => new Date(ms).toISOString().replace('Z', '+00:00')

function readCookie (header) {
  if (header === undefined) return undefined
  const prefix = COOKIE_NAME + '='
  for (const part of header.split(';')) {
    const p = part.trim()
    if (p.startsWith(prefix)) return decodeURIComponent(p.slice(prefix.length))
  }
  return undefined
}

/** The session + user row for a cookie token, or null for any problem (as the app's auth). */
function authenticate (token) {
  let claims
  try {
    claims = verify(token)
  } catch {
    return null
  }
  if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string' || claims.jti.length > 64) return null
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') return null
  const now = Date.now()
  if (claims.iat * 1000 > now + MAX_CLOCK_SKEW_MS) return null
  const row = findActive.get(claims.jti, iso(now), iso(now - IDLE_MS), iso(now - MAX_AGE_MS))
  if (row === undefined || String(row.userId) !== claims.sub) return null
  if (row.rotatedAt !== null && now - Date.parse(row.rotatedAt) > ROTATION_GRACE_MS) return null
  return row
}

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const e = value => String(value).replace(/[&<>"']/g, c => ESC[c])
const dateText = s => new Date(s).toISOString().slice(0, 16).replace('T', ' ') + ' UTC'
function ageOf (dob) {
  if (dob === null) return 'not given'
  const d = new Date(dob)
  const now = new Date()
  let age = now.getUTCFullYear() - d.getUTCFullYear()
  if (now.getUTCMonth() < d.getUTCMonth() || (now.getUTCMonth() === d.getUTCMonth() && now.getUTCDate() < d.getUTCDate())) age--
  return age
}
const device = ua => ua === '' ? 'Unknown device' : ua.split(/[ /]/, 2).join(' ').slice(0, 40)

function profilePage (row) {
  const handle = createHmac('sha256', handleKey).update(row.id).digest('base64url').slice(0, 22)
  const salt = randomBytes(12).toString('base64url')
  const csrf = salt + '-' + createHmac('sha256', csrfKey).update(`${row.userId}.${row.authenticatedAt}.${salt}`).digest('base64url')
  const dob = row.dob === null ? '' : row.dob.slice(0, 10)
  const dev = e(device(row.userAgent))
  const ip = e(row.ip)
  const admin = row.role === 'Admin' ? '\n      <li><a href="/audit">Audit</a></li>' : ''
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Your profile · fastify-portfolio</title>
  <link rel="stylesheet" href="/css/app.css">
  <link rel="icon" href="/favicon.svg" type="image/svg+xml">
  <script src="/js/app.js" defer></script>
</head>
<body>
  <a class="skip-link" href="#main">Skip to content</a>
  <header class="site-header">
  <nav aria-label="Main">
    <a class="brand" href="/">fastify-portfolio</a>
    <ul class="nav-links">
      <li><a href="/">Home</a></li>
      <li><a href="/table">Table</a></li>
      <li><a href="/users">Users</a></li>
      <li><a href="/profile" aria-current="page">Profile</a></li>${admin}
      <li><a href="/docs/api">API</a></li>
    </ul>
    <div class="nav-user">
      <span class="who" data-testid="current-user">${e(row.name)} <span class="muted">(${e(row.uid)}, ${e(row.role)})</span></span>
      <form method="post" action="/logout" class="inline-form">
        <input type="hidden" name="_csrf" value="${csrf}">
        <button type="submit" class="button-link">Sign out</button>
      </form>
    </div>
  </nav>
</header>
  <main id="main" tabindex="-1">
        <h1>Your profile</h1>
<dl class="facts">
  <dt>User id</dt><dd>${e(row.uid)}</dd>
  <dt>Role</dt><dd>${e(row.role)}</dd>
  <dt>Age</dt><dd>${ageOf(row.dob)}</dd>
</dl>

<section class="card">
  <h2 id="details-heading">Details</h2>
  <form method="post" action="/profile" aria-labelledby="details-heading" novalidate>
    <input type="hidden" name="_csrf" value="${csrf}">
    <div class="field">
  <label for="field-name">Name</label>
  <input id="field-name" name="name" type="text" value="${e(row.name)}" autocomplete="name" required maxlength="100">
</div>
    <div class="field">
  <label for="field-dob">Date of birth</label>
  <input id="field-dob" name="dob" type="date" value="${dob}" autocomplete="bday">
</div>
    <button type="submit">Save details</button>
  </form>
</section>

<section class="card">
  <h2 id="password-heading">Password</h2>
  <form method="post" action="/profile/password" aria-labelledby="password-heading" novalidate>
    <input type="hidden" name="_csrf" value="${csrf}">
    <input type="text" name="username" value="${e(row.uid)}" autocomplete="username" hidden>
    <div class="field">
  <label for="field-current-password">Current password</label>
  <input id="field-current-password" name="currentPassword" type="password" autocomplete="current-password" required maxlength="256">
</div>
    <div class="field">
  <label for="field-new-password">New password</label>
  <p class="hint" id="field-new-password-hint">At least 8 characters. Changing it signs out your other sessions.</p>
  <input id="field-new-password" name="newPassword" type="password" autocomplete="new-password" required maxlength="256" aria-describedby="field-new-password-hint">
</div>
    <button type="submit">Change password</button>
  </form>
</section>

<section class="card" aria-labelledby="sessions-heading">
  <h2 id="sessions-heading">Active sessions</h2>
  <p>Each browser or device signed in to your account. Sign out any you do not recognise.</p>
  <div class="table-scroll">
  <table>
    <caption class="visually-hidden">Devices signed in to your account</caption>
    <thead><tr><th scope="col">Device</th><th scope="col">Signed in</th><th scope="col">Last seen</th><th scope="col">IP address</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
    <tbody>
      <tr aria-current="true">
        <td><span title="${e(row.userAgent)}">${dev}</span> <strong>(this session)</strong></td>
        <td><time datetime="${e(row.authenticatedAt)}">${dateText(row.authenticatedAt)}</time></td>
        <td><time datetime="${e(row.lastSeenAt)}">${dateText(row.lastSeenAt)}</time></td>
        <td>${ip}</td>
        <td>
          <form method="post" action="/profile/sessions/${handle}/revoke" class="inline-form">
            <input type="hidden" name="_csrf" value="${csrf}">
            <button type="submit" class="button-secondary">Sign out this device<span class="visually-hidden"> (${dev}, ${ip})</span></button>
          </form>
        </td>
      </tr>
    </tbody>
  </table>
  </div>
</section>
  </main>
  <footer class="site-footer">
    <p>fastify-portfolio · a Fastify port of the Flask portfolio backend · <a href="/docs/api">API</a></p>
  </footer>
</body>
</html>
`
}

const fastify = Fastify({ logger: false })

fastify.get('/profile', function profile (request, reply) {
  const token = readCookie(request.headers.cookie)
  const row = token === undefined || token === '' ? null : authenticate(token)
  if (row === null) {
    if (token !== undefined) reply.header('set-cookie', `${COOKIE_NAME}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax`)
    return reply.redirect('/login?next=%2Fprofile', 303)
  }
  reply.header('cache-control', 'no-store').type('text/html; charset=utf-8')
  return profilePage(row)
})

fastify.get('/health', () => ({ ok: true }))

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => fastify.close().then(() => { db.close(); process.exit(0) }))
}

await fastify.listen({ host: env.HOST ?? '127.0.0.1', port: Number(env.PORT ?? 3100) })
