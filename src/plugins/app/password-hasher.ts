import { availableParallelism } from 'node:os'
import { hash, verify, type Algorithm } from '@node-rs/argon2'
import fp from 'fastify-plugin'
import { Semaphore } from '../../lib/semaphore.ts'
import { isWerkzeugHash, parseWerkzeugHash, verifyWerkzeugHash } from '../../lib/werkzeug-hash.ts'

declare module 'fastify' {
  interface FastifyInstance {
    passwordHasher: PasswordHasher
  }
}

export interface PasswordHasher {
  hash (password: string): Promise<string>
  /**
   * True when `password` matches `passwordHash` (argon2, or a Werkzeug hash imported from the
   * Flask app); false for a mismatch or a hash that cannot be checked.
   */
  verify (passwordHash: string, password: string): Promise<boolean>
  /** Spends the same work as a real check, for unknown users (no timing oracle). */
  verifyDummy (password: string): Promise<void>
  /** True for anything but argon2id with the configured cost: replace it after a successful sign-in. */
  needsRehash (passwordHash: string): boolean
  /** Why a stored hash can never match (malformed or unsupported), or null when it can be checked. */
  unsupportedReason (passwordHash: string): string | null
}

export interface HasherOptions {
  memoryCost: number
  timeCost: number
  maxConcurrent: number
}

// `Algorithm` is an ambient const enum, which isolatedModules cannot read: 2 is Argon2id.
const ARGON2ID = 2 as Algorithm

// PHC strings as @node-rs/argon2 writes them: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
const ARGON2_PHC = /^\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/

/**
 * Why a stored password hash can never match, in words fit for the audit trail and the import
 * report (never any part of the hash); null when `verify` can check it.
 */
export function unsupportedHashReason (passwordHash: string): string | null {
  if (passwordHash.startsWith('$argon2')) return ARGON2_PHC.test(passwordHash) ? null : 'malformed argon2 hash'
  const parsed = parseWerkzeugHash(passwordHash)
  return parsed.ok ? null : parsed.problem
}

/**
 * argon2id (OWASP: m=19 MiB, t=2, p=1 by default). @node-rs/argon2 runs each hash on libuv's
 * thread pool, off the event loop; the semaphore keeps sign-in storms from filling that pool.
 * Werkzeug hashes (users imported from the Flask app) are checked through the same semaphore.
 */
export function createPasswordHasher (options: HasherOptions): PasswordHasher {
  const params = { algorithm: ARGON2ID, memoryCost: options.memoryCost, timeCost: options.timeCost, parallelism: 1 }
  const slots = new Semaphore(Math.min(options.maxConcurrent, Math.max(1, availableParallelism())))
  const current = `$argon2id$v=19$m=${options.memoryCost},t=${options.timeCost},p=1$`
  let dummyHash: Promise<string> | undefined

  async function check (passwordHash: string, password: string): Promise<boolean> {
    if (passwordHash.startsWith('$argon2')) {
      return await slots.run(() => verify(passwordHash, password))
    }
    if (isWerkzeugHash(passwordHash)) {
      const result = await slots.run(() => verifyWerkzeugHash(passwordHash, password))
      return result.ok && result.match
    }
    return false
  }

  const hasher: PasswordHasher = {
    hash: (password) => slots.run(() => hash(password, params)),
    async verify (passwordHash, password) {
      if (hasher.unsupportedReason(passwordHash) !== null) {
        // An unusable hash fails after the same work as a real check: the time taken must not
        // tell which accounts have one.
        await hasher.verifyDummy(password)
        return false
      }
      try {
        return await check(passwordHash, password)
      } catch {
        // A malformed stored hash is a failed sign-in, not a server error.
        return false
      }
    },
    async verifyDummy (password) {
      dummyHash ??= hasher.hash('dummy password for unknown users')
      await hasher.verify(await dummyHash, password)
    },
    needsRehash: (passwordHash) => !passwordHash.startsWith(current),
    unsupportedReason: unsupportedHashReason
  }
  return hasher
}

export default fp(async function passwordHasher (fastify) {
  fastify.decorate('passwordHasher', createPasswordHasher(fastify.config.passwordHash))
}, { name: 'password-hasher' })
