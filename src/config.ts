/**
 * The only module that reads `process.env`. It validates every variable once, at start-up,
 * and turns them into a typed, frozen `Config`. Weak or missing secrets in production stop
 * the process here, before anything listens.
 */
import { randomBytes } from 'node:crypto'
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
  LOGIN_RATE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 15 * 60 })
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
    secret: string
    ttlSeconds: number
    issuer: string
    audience: string
  }
  cookie: {
    name: string
    secure: boolean
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
  return null
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

function parseTrustProxy (value: string): boolean | number | string {
  const v = value.trim()
  if (v === '' || v === 'false') return false
  if (v === 'true') return true
  if (/^\d+$/.test(v)) return Number(v)
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

  let secret = raw.JWT_SECRET?.trim() ?? ''
  if (secret === '') {
    if (production) {
      throw new ConfigError('JWT_SECRET is not set. In production it is required: generate one with `node -e "console.log(require(\'crypto\').randomBytes(48).toString(\'base64url\'))"`.')
    }
    secret = developmentSecret(instanceDir)
  } else {
    const weakness = secretWeakness(secret)
    if (weakness !== null) {
      throw new ConfigError(`JWT_SECRET is too weak: ${weakness}. Use at least ${MIN_SECRET_LENGTH} random characters (e.g. 48 random bytes in base64url).`)
    }
  }

  const secure = raw.COOKIE_SECURE ?? production
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
    jwt: { secret, ttlSeconds: raw.JWT_TTL, issuer: 'fastify-portfolio', audience: 'fastify-portfolio' },
    // `__Host-` cookies must be Secure, Path=/ and have no Domain: the browser enforces it.
    cookie: { name: raw.COOKIE_NAME ?? (secure ? '__Host-token' : 'token'), secure },
    signupEnabled: raw.SIGNUP_ENABLED ?? true,
    trustProxy: parseTrustProxy(raw.TRUST_PROXY),
    publicOrigin: raw.PUBLIC_ORIGIN === '' ? null : parseOrigin(raw.PUBLIC_ORIGIN, 'PUBLIC_ORIGIN'),
    corsOrigins,
    passwordHash: {
      memoryCost: raw.PASSWORD_HASH_MEMORY_KIB,
      timeCost: raw.PASSWORD_HASH_ITERATIONS,
      maxConcurrent: raw.PASSWORD_HASH_CONCURRENCY
    },
    loginRateLimit: { max: raw.LOGIN_RATE_LIMIT, windowSeconds: raw.LOGIN_RATE_WINDOW_SECONDS }
  })
}
