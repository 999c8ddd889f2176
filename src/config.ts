/**
 * The only module that reads `process.env`. It validates every variable once, at start-up,
 * and turns them into a typed, frozen `Config`. Weak or missing secrets in production stop
 * the process here, before anything listens.
 */
import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { envSchema } from 'env-schema'
import { Type, type Static } from 'typebox'

const Boolish = (defaultValue?: boolean) =>
  Type.Optional(Type.Boolean(defaultValue === undefined ? {} : { default: defaultValue }))

const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), { default: 'info' }),
  INSTANCE_DIR: Type.String({ default: './instance' }),
  DATABASE_URL: Type.String({ default: 'file:./instance/volumes/sqlite.db', minLength: 1 }),
  MIGRATE_ON_START: Boolish(),
  SEED_DEMO_USERS: Boolish(),
  JWT_SECRET: Type.Optional(Type.String()),
  JWT_TTL: Type.Integer({ minimum: 60, maximum: 30 * 24 * 3600, default: 8 * 3600 }),
  SESSION_IDLE_TIMEOUT: Type.Integer({ minimum: 60, default: 2 * 3600 }),
  SESSION_MAX_AGE: Type.Integer({ minimum: 60, default: 7 * 24 * 3600 }),
  SESSION_PRUNE_INTERVAL: Type.Integer({ minimum: 0, default: 3600 }),
  SESSION_CACHE_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 5000 }),
  CROSS_SITE_COOKIES: Boolish(false),
  COOKIE_NAME: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' })),
  COOKIE_SECURE: Boolish(),
  SIGNUP_ENABLED: Boolish(true),
  TRUST_PROXY: Type.String({ default: '' }),
  PUBLIC_ORIGIN: Type.String({ default: '' }),
  CORS_ORIGINS: Type.String({ default: '' }),
  PASSWORD_HASH_MEMORY_KIB: Type.Integer({ minimum: 1024, maximum: 1024 * 1024, default: 19456 }),
  PASSWORD_HASH_ITERATIONS: Type.Integer({ minimum: 1, maximum: 20, default: 2 }),
  PASSWORD_HASH_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
  LOGIN_RATE_LIMIT: Type.Integer({ minimum: 1, default: 20 }),
  LOGIN_RATE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 15 * 60 }),
  LOGIN_ACCOUNT_FREE_ATTEMPTS: Type.Integer({ minimum: 1, default: 5 }),
  LOGIN_ACCOUNT_MAX_DELAY_SECONDS: Type.Integer({ minimum: 1, default: 15 * 60 }),
  REDIS_URL: Type.String({ default: '' }),
  REDIS_KEY_PREFIX: Type.String({ default: 'fastify-portfolio:', pattern: '^[A-Za-z0-9_.:-]{1,100}$' })
})
type Env = Static<typeof EnvSchema>

export type NodeEnv = Env['NODE_ENV']
export type LogLevel = Env['LOG_LEVEL']

export interface Config {
  env: NodeEnv
  host: string
  port: number
  logLevel: LogLevel
  /** Absolute path of the runtime-state folder (`instance/`). */
  instanceDir: string
  databaseUrl: string
  /** Apply pending migrations when the server starts (default: on outside production). */
  migrateOnStart: boolean
  /** Create the demo users when the users table is empty (default: on in development). */
  seedDemoUsers: boolean
  jwt: {
    /** The newest key: it signs tokens, and the other keys are derived from it. */
    secret: string
    /** Every accepted key, newest first (JWT_SECRET=new,old during a rotation). */
    secrets: string[]
    ttlSeconds: number
    issuer: string
    audience: string
  }
  session: {
    /** A session unused for this long ends (seconds). */
    idleTimeoutSeconds: number
    /** No session lasts longer than this from sign-in, renewals included (seconds). */
    maxAgeSeconds: number
    /** How often ended sessions are deleted (seconds; 0: never). */
    pruneIntervalSeconds: number
    /** How long a verified session is reused from memory (ms; 0: always read the database). */
    cacheMs: number
  }
  cookie: {
    name: string
    secure: boolean
    /** SameSite=None, for a front end on another site (needs Secure). */
    sameSite: 'lax' | 'none'
  }
  signupEnabled: boolean
  /** Fastify's `trustProxy`: false, true, a hop count or a comma-separated address list. */
  trustProxy: boolean | number | string
  /** Canonical origin (`https://example.com`); checked against `Origin` on state changes. */
  publicOrigin: string | null
  /** Front-end origins allowed to call `/api/*` with credentials (CORS). Empty: CORS off. */
  corsOrigins: string[]
  passwordHash: {
    memoryCost: number
    timeCost: number
    /** Hashes allowed to run at once, so sign-ins cannot take over libuv's thread pool. */
    maxConcurrent: number
  }
  loginRateLimit: {
    max: number
    windowSeconds: number
  }
  /** Per-account sign-in throttle: failures allowed before delays start, and the longest delay. */
  accountThrottle: {
    freeAttempts: number
    maxDelaySeconds: number
  }
  /**
   * Redis, shared by every instance (REDIS_URL; null: none, each instance keeps its counters and
   * its session cache to itself). `keyPrefix` starts every key and channel name.
   */
  redis: { url: string, keyPrefix: string } | null
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Phrases that appear in tutorials and `.env` samples; a secret equal to one is never accepted. */
const KNOWN_WEAK_SECRETS = new Set([
  'secret', 'changeme', 'change-me', 'your-256-bit-secret', 'jwt-secret', 'jwt_secret',
  'supersecret', 'password', 'development', 'test', 'replace-me', 'replace-with-a-long-random-secret'
])

export const MIN_SECRET_LENGTH = 32

/** Why a secret is unfit for signing tokens, or null when it is acceptable. */
export function secretWeakness (secret: string): string | null {
  if (KNOWN_WEAK_SECRETS.has(secret.trim().toLowerCase())) return 'it is a well-known default value'
  if (secret.length < MIN_SECRET_LENGTH) return `it is shorter than ${MIN_SECRET_LENGTH} characters`
  if (new Set(secret).size < 10) return 'it has too few distinct characters to be random'
  if (isPeriodic(secret)) return 'it repeats a shorter text'
  if (consecutiveShare(secret) > 0.5) return 'it is mostly runs of consecutive characters (abc…, 123…)'
  return null
}

/** True when the text is a shorter text repeated (`your-256-bit-secretyour-256-bit-secret`, `0123456789` × 4). */
function isPeriodic (text: string): boolean {
  for (let period = 1; period <= text.length / 2; period++) {
    let repeats = true
    for (let i = period; i < text.length && repeats; i++) repeats = text[i] === text[i - period]
    if (repeats) return true
  }
  return false
}

/**
 * The share of neighbouring characters that are equal or next to each other in the character
 * set (`abcdef…`, `987…`): about 5 % in random base64url, near 100 % in a typed alphabet.
 */
function consecutiveShare (text: string): number {
  let runs = 0
  for (let i = 1; i < text.length; i++) {
    if (Math.abs(text.charCodeAt(i) - text.charCodeAt(i - 1)) <= 1) runs++
  }
  return runs / (text.length - 1)
}

/**
 * The development secret lives in `instance/secrets/jwt-secret` (0600), generated once, so
 * restarts keep sessions and nothing secret is ever committed.
 */
function developmentSecret (instanceDir: string): string {
  const dir = join(instanceDir, 'secrets')
  const file = join(dir, 'jwt-secret')
  try {
    const existing = readFileSync(file, 'utf8').trim()
    if (secretWeakness(existing) === null) return existing
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const secret = randomBytes(48).toString('base64url')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  writeFileSync(file, secret + '\n', { mode: 0o600 })
  chmodSync(file, 0o600)
  return secret
}

/** Names proxy-addr (Fastify's trustProxy) accepts for address ranges. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])

/** `10.0.0.1`, `10.0.0.0/8`, `10.0.0.0/255.0.0.0`, `::1`, `fd00::/8` or a range name. */
function isProxyAddress (item: string): boolean {
  if (PROXY_RANGE_NAMES.has(item)) return true
  const [address, prefix, ...rest] = item.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  if (/^\d{1,3}$/.test(prefix)) return Number(prefix) <= (family === 4 ? 32 : 128)
  return isIP(prefix) === family
}

function parseTrustProxy (value: string): boolean | number | string {
  const v = value.trim()
  if (v === '' || v === 'false') return false
  if (v === 'true') return true
  if (/^\d+$/.test(v)) return Number(v)
  for (const item of v.split(',').map(s => s.trim())) {
    if (!isProxyAddress(item)) {
      throw new ConfigError(`TRUST_PROXY: "${item}" is not a proxy address (e.g. 10.0.0.2), a subnet (10.0.0.0/8), loopback, linklocal or uniquelocal; or use true or a hop count`)
    }
  }
  return v
}

function parseRedisUrl (value: string): string | null {
  const v = value.trim()
  if (v === '') return null
  let url: URL
  try {
    url = new URL(v)
  } catch {
    throw new ConfigError('REDIS_URL is not a URL (expected e.g. redis://127.0.0.1:6379 or rediss://user:password@host:6380/0)')
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss:// (got ${url.protocol}//)`)
  }
  if (url.hostname === '') throw new ConfigError('REDIS_URL names no host (expected e.g. redis://127.0.0.1:6379)')
  return v
}

function parseOrigin (value: string, variable: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(`${variable}: "${value}" is not a URL (expected e.g. https://app.example.com)`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`${variable}: "${value}" must start with http:// or https://`)
  }
  return url.origin
}

/**
 * Reads and validates the environment. Pass `env` to load from something other than
 * `process.env` (tests do); `dotenv` also reads `.env` from the working directory.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, options: { dotenv?: boolean } = {}): Config {
  let raw: Env
  try {
    // env: false — read only `env` (env-schema would otherwise merge process.env in as well).
    raw = envSchema<Env>({ schema: EnvSchema, data: env, env: false, dotenv: options.dotenv ?? false })
  } catch (err) {
    throw new ConfigError(`Invalid configuration: ${(err as Error).message}`)
  }
  const production = raw.NODE_ENV === 'production'
  const instanceDir = resolve(raw.INSTANCE_DIR)

  // JWT_SECRET=newest[,older...]: the newest signs, all verify (key rotation).
  let secrets = (raw.JWT_SECRET ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  if (secrets.length === 0) {
    if (production) {
      throw new ConfigError('JWT_SECRET is not set. In production it is required: generate one with `node -e "console.log(require(\'crypto\').randomBytes(48).toString(\'base64url\'))"`.')
    }
    secrets = [developmentSecret(instanceDir)]
  }
  for (const [i, secret] of secrets.entries()) {
    const weakness = secretWeakness(secret)
    if (weakness !== null) {
      const which = secrets.length > 1 ? ` (key ${i + 1} of ${secrets.length})` : ''
      throw new ConfigError(`JWT_SECRET${which} is too weak: ${weakness}. Use at least ${MIN_SECRET_LENGTH} random characters (e.g. 48 random bytes in base64url).`)
    }
  }
  if (new Set(secrets).size !== secrets.length) throw new ConfigError('JWT_SECRET lists the same key twice.')
  const crossSite = raw.CROSS_SITE_COOKIES ?? false

  const secure = raw.COOKIE_SECURE ?? production
  if (crossSite && !secure) throw new ConfigError('CROSS_SITE_COOKIES=true needs COOKIE_SECURE=true: browsers drop SameSite=None cookies that are not Secure.')
  const redisUrl = parseRedisUrl(raw.REDIS_URL)
  const corsOrigins = raw.CORS_ORIGINS.split(',').map(s => s.trim()).filter(Boolean)
    .map(o => parseOrigin(o, 'CORS_ORIGINS'))

  return Object.freeze({
    env: raw.NODE_ENV,
    host: raw.HOST,
    port: raw.PORT,
    logLevel: raw.LOG_LEVEL,
    instanceDir,
    databaseUrl: raw.DATABASE_URL,
    migrateOnStart: raw.MIGRATE_ON_START ?? !production,
    seedDemoUsers: raw.SEED_DEMO_USERS ?? raw.NODE_ENV === 'development',
    jwt: { secret: secrets[0], secrets, ttlSeconds: raw.JWT_TTL, issuer: 'fastify-portfolio', audience: 'fastify-portfolio' },
    session: {
      idleTimeoutSeconds: raw.SESSION_IDLE_TIMEOUT,
      maxAgeSeconds: raw.SESSION_MAX_AGE,
      pruneIntervalSeconds: raw.SESSION_PRUNE_INTERVAL,
      cacheMs: raw.SESSION_CACHE_MS
    },
    // `__Host-` cookies must be Secure, Path=/ and have no Domain: the browser enforces it.
    cookie: { name: raw.COOKIE_NAME ?? (secure ? '__Host-token' : 'token'), secure, sameSite: crossSite ? 'none' as const : 'lax' as const },
    signupEnabled: raw.SIGNUP_ENABLED ?? true,
    trustProxy: parseTrustProxy(raw.TRUST_PROXY),
    publicOrigin: raw.PUBLIC_ORIGIN === '' ? null : parseOrigin(raw.PUBLIC_ORIGIN, 'PUBLIC_ORIGIN'),
    corsOrigins,
    passwordHash: {
      memoryCost: raw.PASSWORD_HASH_MEMORY_KIB,
      timeCost: raw.PASSWORD_HASH_ITERATIONS,
      maxConcurrent: raw.PASSWORD_HASH_CONCURRENCY
    },
    loginRateLimit: { max: raw.LOGIN_RATE_LIMIT, windowSeconds: raw.LOGIN_RATE_WINDOW_SECONDS },
    accountThrottle: { freeAttempts: raw.LOGIN_ACCOUNT_FREE_ATTEMPTS, maxDelaySeconds: raw.LOGIN_ACCOUNT_MAX_DELAY_SECONDS },
    redis: redisUrl === null ? null : { url: redisUrl, keyPrefix: raw.REDIS_KEY_PREFIX }
  })
}
