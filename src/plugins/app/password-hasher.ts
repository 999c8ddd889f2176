import { availableParallelism } from 'node:os'
import { hash, verify, type Algorithm } from '@node-rs/argon2'
import fp from 'fastify-plugin'
import { Semaphore } from '../../lib/semaphore.ts'

declare module 'fastify' {
  interface FastifyInstance {
    passwordHasher: PasswordHasher
  }
}

export interface PasswordHasher {
  hash (password: string): Promise<string>
  /** True when `password` matches `passwordHash`; false for a mismatch or an unreadable hash. */
  verify (passwordHash: string, password: string): Promise<boolean>
  /** Spends the same work as a real check, for unknown users (no timing oracle). */
  verifyDummy (password: string): Promise<void>
}

export interface HasherOptions {
  memoryCost: number
  timeCost: number
  maxConcurrent: number
}

// `Algorithm` is an ambient const enum, which isolatedModules cannot read: 2 is Argon2id.
const ARGON2ID = 2 as Algorithm

/**
 * argon2id (OWASP: m=19 MiB, t=2, p=1 by default). @node-rs/argon2 runs each hash on libuv's
 * thread pool, off the event loop; the semaphore keeps sign-in storms from filling that pool.
 */
export function createPasswordHasher (options: HasherOptions): PasswordHasher {
  const params = { algorithm: ARGON2ID, memoryCost: options.memoryCost, timeCost: options.timeCost, parallelism: 1 }
  const slots = new Semaphore(Math.min(options.maxConcurrent, Math.max(1, availableParallelism())))
  let dummyHash: Promise<string> | undefined

  const hasher: PasswordHasher = {
    hash: (password) => slots.run(() => hash(password, params)),
    async verify (passwordHash, password) {
      if (!passwordHash.startsWith('$argon2')) return false
      try {
        return await slots.run(() => verify(passwordHash, password))
      } catch {
        // A malformed stored hash is a failed sign-in, not a server error.
        return false
      }
    },
    async verifyDummy (password) {
      dummyHash ??= hasher.hash('dummy password for unknown users')
      await hasher.verify(await dummyHash, password)
    }
  }
  return hasher
}

export default fp(async function passwordHasher (fastify) {
  fastify.decorate('passwordHasher', createPasswordHasher(fastify.config.passwordHash))
}, { name: 'password-hasher' })
