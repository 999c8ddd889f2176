import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'
import appPlugin, { serverOptions } from '../../src/app.ts'
import { loggerOptions } from '../../src/lib/logger.ts'
import { build, freshDatabase } from '../helper.ts'
import { createAdmin, createUser } from '../factories.ts'
import { forge, nowSeconds } from './forge.ts'

/** The header every token the app issues carries. */
export const HS256 = { alg: 'HS256', typ: 'JWT' }

/** The message of every API 401 (the app's UnauthorizedError). */
export const SIGN_IN_MESSAGE = 'Please sign in to continue.'

export interface Claims {
  sub?: unknown
  jti?: unknown
  iss?: unknown
  aud?: unknown
  iat?: unknown
  exp?: unknown
  [claim: string]: unknown
}

/**
 * A Session row for `userId`, optionally back-dated, so a hand-made token can name it.
 * Returns the row id (the `jti`).
 */
export async function createSession (app: FastifyInstance, userId: number, times: { createdAt?: Date, expiresAt?: Date } = {}): Promise<string> {
  const createdAt = times.createdAt ?? new Date()
  const expiresAt = times.expiresAt ?? new Date(createdAt.getTime() + app.config.jwt.ttlSeconds * 1000)
  const id = randomBytes(16).toString('base64url')
  // An active session: signed in at createdAt, used just now (so the idle limit does not apply).
  await app.prisma.session.create({ data: { id, userId, createdAt, authenticatedAt: createdAt, lastSeenAt: new Date(), expiresAt, userAgent: 'test', ip: '127.0.0.1' } })
  return id
}

/**
 * The claims of a genuine token for `userId`, backed by a live Session row: signed with the
 * app's key they authenticate, so any failure after changing one claim is that claim's doing.
 */
export async function validClaims (app: FastifyInstance, userId: number): Promise<Claims> {
  const iat = nowSeconds()
  return {
    sub: String(userId),
    jti: await createSession(app, userId),
    iss: app.config.jwt.issuer,
    aud: app.config.jwt.audience,
    iat,
    exp: iat + app.config.jwt.ttlSeconds
  }
}

/** A claim set without the named claims. */
export function without (claims: Claims, ...names: string[]): Claims {
  const copy = { ...claims }
  for (const name of names) delete copy[name]
  return copy
}

/** HS256 with the app's own key: what only the server (or a holder of its secret) can make. */
export function signAsApp (app: FastifyInstance, payload: unknown, header: Record<string, unknown> = HS256): string {
  return forge(header, payload, app.config.jwt.secret)
}

/** The `Cookie` header that presents `token` as the auth cookie. */
export function authCookie (app: FastifyInstance, token: string): string {
  return `${app.config.cookie.name}=${token}`
}

/** The token value inside a `name=value` cookie string. */
export function tokenOf (cookie: string): string {
  return cookie.slice(cookie.indexOf('=') + 1)
}

/** The decoded payload of a JWT (test-side only: the app never decodes without verifying). */
export function payloadOf (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>
}

/** Raw `Set-Cookie` header lines of a response. */
export function setCookieLines (res: LightMyRequestResponse): string[] {
  const raw = res.headers['set-cookie']
  if (raw === undefined) return []
  return Array.isArray(raw) ? raw : [raw]
}

/** `Set-Cookie` lines for one cookie name. */
export function setCookieLinesFor (res: LightMyRequestResponse, name: string): string[] {
  return setCookieLines(res).filter(line => line.startsWith(`${name}=`))
}

/** True when a `Set-Cookie` line deletes its cookie (`Max-Age=0` or an `Expires` in the past, and no value). */
export function isExpiring (line: string): boolean {
  const value = line.slice(line.indexOf('=') + 1).split(';')[0]
  const maxAge = /;\s*Max-Age=(-?\d+)/i.exec(line)
  const expires = /;\s*Expires=([^;]+)/i.exec(line)
  const past = (maxAge !== null && Number(maxAge[1]) <= 0) || (expires !== null && new Date(expires[1]).getTime() < Date.now())
  return past && value === ''
}

/** Strings that would betray a stack trace or library internals in a response body. */
const LEAK_PATTERNS: RegExp[] = [
  /\bat [\w.<> ]+\(.*:\d+:\d+\)/, // stack frame
  /node_modules/,
  /prisma/i,
  /sqlite/i,
  /fast-?jwt/i,
  /TokenError/,
  /FAST_JWT_/,
  /FST_JWT_/,
  /Cannot read propert/,
  /TypeError|ReferenceError|RangeError/,
  /\/src\/|\.ts:\d+/
]

/**
 * NEVER: not a 5xx, no stack trace or library text, no secret (the JWT key, or any of
 * `secrets` such as the presented token) in the body or headers.
 */
export function assertNever (app: FastifyInstance, res: LightMyRequestResponse, secrets: string[] = []): void {
  assert.ok(res.statusCode < 500, `expected no 5xx, got ${res.statusCode}: ${res.body.slice(0, 200)}`)
  for (const pattern of LEAK_PATTERNS) {
    assert.doesNotMatch(res.body, pattern, `response body leaks ${pattern}`)
  }
  const headers = JSON.stringify(res.headers)
  for (const secret of [app.config.jwt.secret, ...secrets].filter(s => s.length >= 8)) {
    assert.ok(!res.body.includes(secret), 'a secret or token is echoed in the body')
    assert.ok(!headers.includes(secret), 'a secret or token is echoed in the headers')
  }
}

/**
 * AUTHFAIL-page: a 303 (the app's choice; 302 would also do) to `/login?next=<same-origin path>`,
 * no protected content, and the presented auth cookie expired. (An empty cookie value counts as
 * "no cookie presented".)
 */
export function assertAuthFailPage (app: FastifyInstance, res: LightMyRequestResponse, options: { presented?: boolean, token?: string } = {}): void {
  assert.ok(res.statusCode === 303 || res.statusCode === 302, `expected a redirect to /login, got ${res.statusCode}`)
  const location = String(res.headers.location ?? '')
  assert.match(location, /^\/login(\?|$)/, `Location should be /login?next=…, got ${location}`)
  if (location.includes('?next=')) {
    const next = decodeURIComponent(location.slice(location.indexOf('?next=') + 6))
    assert.ok(next.startsWith('/') && !next.startsWith('//'), `next is a same-origin path: ${next}`)
  }
  assert.equal(res.body, '', 'a redirect carries no page content')
  if (options.presented !== false) {
    const lines = setCookieLinesFor(res, app.config.cookie.name)
    assert.equal(lines.length, 1, `exactly one Set-Cookie for ${app.config.cookie.name}, got ${JSON.stringify(setCookieLines(res))}`)
    assert.ok(isExpiring(lines[0]), `the presented cookie is expired: ${lines[0]}`)
  }
  assertNever(app, res, options.token === undefined ? [] : [options.token])
}

/** AUTHFAIL-api: 401 with the generic JSON body, no token echoed, nothing leaked. */
export function assertAuthFailApi (app: FastifyInstance, res: LightMyRequestResponse, options: { token?: string } = {}): void {
  assert.equal(res.statusCode, 401, `expected 401, got ${res.statusCode}: ${res.body.slice(0, 200)}`)
  assert.match(String(res.headers['content-type']), /^application\/json/)
  assert.deepEqual(res.json(), { statusCode: 401, error: 'Unauthorized', message: SIGN_IN_MESSAGE })
  assertNever(app, res, options.token === undefined ? [] : [options.token])
}

/** FORBID: 403, as an HTML "Forbidden" page or a JSON body. */
export function assertForbidden (res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 403, `expected 403, got ${res.statusCode}: ${res.body.slice(0, 200)}`)
  if (String(res.headers['content-type']).startsWith('application/json')) {
    assert.equal(res.json().statusCode, 403)
  } else {
    assert.match(res.body, /<h1>Forbidden<\/h1>/)
  }
}

/** Every table, row by row: equal before and after means nothing was stored or changed (NOSTORE). */
export async function fullSnapshot (app: FastifyInstance): Promise<string> {
  const [users, sessions] = await Promise.all([
    app.prisma.user.findMany({ orderBy: { id: 'asc' } }),
    app.prisma.session.findMany({ orderBy: { id: 'asc' } })
  ])
  return JSON.stringify({ users, sessions })
}

/** The server still answers (NEVER: "process still alive, next request OK"). */
export async function assertAlive (app: FastifyInstance): Promise<void> {
  const res = await app.inject({ method: 'GET', url: '/api/health' })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { status: 'ok', database: 'ok', redis: 'not configured' })
}

/**
 * Presents `token` as the auth cookie to an authenticated page, an Admin-only page and the
 * API, and expects each to refuse it (AUTHFAIL-page / AUTHFAIL-api). `adminTargetId` is an
 * existing user an Admin could open the delete page for.
 */
export async function assertTokenRefused (app: FastifyInstance, token: string, adminTargetId: number): Promise<void> {
  const cookie = authCookie(app, token)
  const presented = token !== ''
  for (const url of ['/profile', `/users/${adminTargetId}/delete`]) {
    const res = await app.inject({ method: 'GET', url, headers: { cookie } })
    assertAuthFailPage(app, res, { presented, token })
  }
  const api = await app.inject({ method: 'GET', url: '/api/id', headers: { cookie } })
  assertAuthFailApi(app, api, { token })
}

/** The user the API sees for a cookie: its `/api/id` id, or null when signed out. */
export async function whoIs (app: FastifyInstance, cookie: string): Promise<number | null> {
  const res = await app.inject({ method: 'GET', url: '/api/id', headers: { cookie } })
  if (res.statusCode === 401) return null
  assert.equal(res.statusCode, 200, `unexpected /api/id status ${res.statusCode}`)
  return res.json().id as number
}

/** An app on a fresh database with one User and one Admin (and their passwords). */
export async function setup (t: TestContext, env: Record<string, string> = {}) {
  const app = await build(t, env)
  const { user, password } = await createUser(app)
  const { user: admin, password: adminPassword } = await createAdmin(app)
  return { app, user, password, admin, adminPassword }
}

/** Starts a real listener on 127.0.0.1 (closed with the app) and returns its port. */
export async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as AddressInfo).port
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/** One request through Node's HTTP client (a real socket), optionally from another loopback address. */
export function httpRequest (port: number, options: { method?: string, path: string, headers?: OutgoingHttpHeaders, body?: string, localAddress?: string }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: options.body === undefined ? options.headers : { 'content-length': Buffer.byteLength(options.body), ...options.headers },
      localAddress: options.localAddress,
      agent: false
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/**
 * The app built as `build()` does, but logging at `info` into memory, so tests can read what
 * the server logs. (server.ts adds pino redaction of cookies and authorization on top.)
 */
export async function buildLogged (t: TestContext, env: Record<string, string> = {}): Promise<{ app: FastifyInstance, logs: string[] }> {
  const { config, file } = await freshDatabase(env)
  const logs: string[] = []
  // The app's own logger options (redaction, serializers), at info level, into an array.
  const app = Fastify({ ...serverOptions(config), logger: { ...loggerOptions(config), level: 'info', stream: { write: (line: string) => { logs.push(line) } } } })
  await app.register(fp(appPlugin), { config })
  await app.ready()
  t.after(async () => {
    await app.close()
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })
  })
  return { app, logs }
}
