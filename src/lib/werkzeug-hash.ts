/**
 * Werkzeug password hashes, as the Flask original stored them (`generate_password_hash`):
 * `method$salt$hexdigest`, where method is `pbkdf2:<hash>:<iterations>` (PBKDF2-HMAC, derived
 * key as long as the hash's digest) or `scrypt:<n>:<r>:<p>` (64-byte key), and the salt is used
 * as its UTF-8 text. Read here only so imported users can sign in once; the app then replaces
 * the hash with argon2id.
 *
 * Nothing here throws for a bad stored value: it is a `problem`, written in a fixed vocabulary
 * that never repeats any part of the hash (a "hash" may even be a password stored in plain text).
 * @see https://github.com/pallets/werkzeug/blob/main/src/werkzeug/security.py
 */
import { pbkdf2, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

const pbkdf2Async = promisify(pbkdf2)
const scryptAsync = promisify(scrypt) as (password: string, salt: string, keylen: number, options: { N: number, r: number, p: number, maxmem: number }) => Promise<Buffer>

/** Digest size in bytes of each hash PBKDF2 may use; others (md5…) are refused. */
const DIGEST_BYTES = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 } as const
export type Digest = keyof typeof DIGEST_BYTES

// Cost limits: a stored hash is data, and data must not make one sign-in run for minutes or
// take gigabytes (Werkzeug 3.1 uses 1 000 000 PBKDF2 iterations and scrypt n = 2^15).
export const MAX_PBKDF2_ITERATIONS = 5_000_000
export const MAX_SCRYPT_N = 2 ** 20
const MAX_SCRYPT_R = 32
const MAX_SCRYPT_P = 16
/** scrypt needs 128·n·r bytes; at most 1 GiB (n = 2^20 with r = 8). */
const MAX_SCRYPT_MEMORY = 2 ** 30
const SCRYPT_KEY_BYTES = 64
const MAX_SALT_LENGTH = 1024

export type WerkzeugMethod =
  | { kind: 'pbkdf2', digest: Digest, iterations: number }
  | { kind: 'scrypt', n: number, r: number, p: number }

export interface WerkzeugHash {
  method: WerkzeugMethod
  salt: string
  /** The derived key the password must reproduce. */
  expected: Buffer
}

export type ParseResult = { ok: true, hash: WerkzeugHash } | { ok: false, problem: string }
export type CheckResult = { ok: true, match: boolean } | { ok: false, problem: string }

const fail = (problem: string): { ok: false, problem: string } => ({ ok: false, problem })

/** A positive decimal integer without sign, spaces or leading zeros, or null. */
function count (text: string | undefined): number | null {
  if (text === undefined || !/^[1-9]\d{0,9}$/.test(text)) return null
  return Number(text)
}

/** True when `stored` names a Werkzeug method this module reads (it may still be malformed). */
export function isWerkzeugHash (stored: string): boolean {
  return stored.startsWith('pbkdf2:') || stored.startsWith('scrypt:')
}

/** What a value that is not `pbkdf2:`/`scrypt:` looks like, for the report (never its content). */
function describeOther (stored: string): string {
  if (stored === '') return 'empty password hash'
  if (/^\$2[abxy]?\$/.test(stored)) return 'bcrypt hash (not a Werkzeug format)'
  if (stored.startsWith('$')) return 'unknown hash format'
  const method = stored.includes('$') ? stored.slice(0, stored.indexOf('$')) : ''
  if (method === 'plain') return 'password stored in plain text (Werkzeug "plain")'
  // Werkzeug before 2.3 also wrote `<hashlib name>$salt$hex`: one salted digest, no stretching.
  if (/^(md5|sha1|sha224|sha256|sha384|sha512)$/.test(method)) return `single-round ${method} digest (too weak to accept)`
  return 'unknown hash format'
}

function parseMethod (method: string): { ok: true, method: WerkzeugMethod, keyBytes: number } | { ok: false, problem: string } {
  const parts = method.split(':')
  if (parts[0] === 'pbkdf2') {
    if (parts.length !== 3) return fail('pbkdf2 hash without a digest name and iteration count')
    const digest = parts[1]
    if (!Object.hasOwn(DIGEST_BYTES, digest)) return fail('pbkdf2 with an unsupported digest')
    const iterations = count(parts[2])
    if (iterations === null) return fail('pbkdf2 iteration count is not a positive number')
    if (iterations > MAX_PBKDF2_ITERATIONS) return fail(`pbkdf2 iteration count above ${MAX_PBKDF2_ITERATIONS}`)
    return { ok: true, method: { kind: 'pbkdf2', digest: digest as Digest, iterations }, keyBytes: DIGEST_BYTES[digest as Digest] }
  }
  // scrypt
  if (parts.length !== 4) return fail('scrypt hash without its n, r and p parameters')
  const [n, r, p] = parts.slice(1).map(count)
  if (n === null || r === null || p === null) return fail('scrypt parameter is not a positive number')
  if (n < 2 || (n & (n - 1)) !== 0) return fail('scrypt n is not a power of two')
  if (n > MAX_SCRYPT_N) return fail(`scrypt n above 2^${Math.log2(MAX_SCRYPT_N)}`)
  if (r > MAX_SCRYPT_R || p > MAX_SCRYPT_P || 128 * n * r > MAX_SCRYPT_MEMORY) return fail('scrypt r or p too large')
  return { ok: true, method: { kind: 'scrypt', n, r, p }, keyBytes: SCRYPT_KEY_BYTES }
}

/** Splits and checks a stored Werkzeug hash without computing anything. */
export function parseWerkzeugHash (stored: string): ParseResult {
  if (!isWerkzeugHash(stored)) return fail(describeOther(stored))
  // As Werkzeug: `pwhash.split("$", 2)`.
  const first = stored.indexOf('$')
  const second = first === -1 ? -1 : stored.indexOf('$', first + 1)
  if (second === -1) return fail('Werkzeug hash without salt and digest')
  const method = parseMethod(stored.slice(0, first))
  if (!method.ok) return method
  const salt = stored.slice(first + 1, second)
  if (salt.length === 0 || salt.length > MAX_SALT_LENGTH) return fail('Werkzeug hash with an empty or oversized salt')
  const hex = stored.slice(second + 1)
  if (!/^[0-9a-fA-F]*$/.test(hex)) return fail('Werkzeug digest is not hexadecimal')
  if (hex.length !== method.keyBytes * 2) return fail('Werkzeug digest has the wrong length')
  return { ok: true, hash: { method: method.method, salt, expected: Buffer.from(hex, 'hex') } }
}

/**
 * Checks `password` against a stored Werkzeug hash, off the event loop (libuv's thread pool)
 * and in constant time. `{ ok: false }` when the hash cannot be checked at all.
 */
export async function verifyWerkzeugHash (stored: string, password: string): Promise<CheckResult> {
  const parsed = parseWerkzeugHash(stored)
  if (!parsed.ok) return parsed
  const { method, salt, expected } = parsed.hash
  let actual: Buffer
  try {
    // Werkzeug encodes both as UTF-8; Node does the same for strings.
    actual = method.kind === 'pbkdf2'
      ? await pbkdf2Async(password, salt, method.iterations, expected.length, method.digest)
      : await scryptAsync(password, salt, expected.length, {
        N: method.n,
        r: method.r,
        p: method.p,
        // OpenSSL refuses unless maxmem covers 128·n·r (plus 128·r·p); twice that leaves room.
        maxmem: 128 * method.n * method.r * 2 + 128 * method.r * method.p
      })
  } catch {
    // Not expected within the limits above; kept so that no stored value can throw to a route.
    return fail('the hash could not be computed')
  }
  return { ok: true, match: timingSafeEqual(actual, expected) }
}
