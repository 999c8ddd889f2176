import fp from 'fastify-plugin'
import { Prisma } from '../../generated/prisma/client.ts'
import type { PrismaClient, User } from '../../generated/prisma/client.ts'
import { InputError, UidTakenError } from '../../lib/errors.ts'
import { memoizeByObject } from '../../lib/memo.ts'
import { INVISIBLE_CHAR } from '../../lib/visible-text.ts'
import type { PasswordHasher } from './password-hasher.ts'
import type { SessionCache } from './session-cache.ts'
import { NAME_CONTROL_CHARS, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, UID_MAX, type PublicUser, type Role } from '../../schemas/users.ts'

declare module 'fastify' {
  interface FastifyInstance {
    usersRepository: ReturnType<typeof createUsersRepository>
  }
}

export type { User }
type Tx = Prisma.TransactionClient

export interface NewUser {
  uid: string
  name: string
  password: string
  dob?: string | null
  role?: Role
  hashmap?: Record<string, unknown>
}

export interface UserChanges {
  name?: string
  password?: string
  dob?: string | null
  role?: Role
  hashmap?: Record<string, unknown>
}

/** Sign-in ids compare equal across case and Unicode forms: NFKC, trimmed, lower case. */
export function normalizeUid (uid: string): string {
  return uid.normalize('NFKC').trim().toLowerCase()
}

const UID_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}._-]*$/u
const CONTROL_CHARS = new RegExp(NAME_CONTROL_CHARS, 'u')
// Letters that show nothing (the Hangul fillers are letters): `toby\u3164` would read as `toby`.
const INVISIBLE_IN_UID = new RegExp(INVISIBLE_CHAR, 'u')
const HASHMAP_MAX_BYTES = 4096

function isValidUid (uid: string): boolean {
  return uid.length >= 2 && uid.length <= UID_MAX && UID_PATTERN.test(uid) && !INVISIBLE_IN_UID.test(uid)
}

function checkUid (uid: string, fields: Record<string, string>): void {
  if (!isValidUid(uid)) {
    fields.uid = `User id: 2 to ${UID_MAX} letters or digits; dots, dashes and underscores allowed after the first.`
  }
}

/** A lone UTF-16 surrogate half: JSON can carry one, UTF-8 (and PostgreSQL) cannot. */
const LONE_SURROGATE = /\p{Surrogate}/u

function checkName (name: string, fields: Record<string, string>): string {
  const clean = name.normalize('NFC').trim()
  if (clean.length === 0 || clean.length > NAME_MAX || CONTROL_CHARS.test(clean)) {
    fields.name = `Name: 1 to ${NAME_MAX} characters, no control or invisible characters.`
  } else if (LONE_SURROGATE.test(clean)) {
    fields.name = 'Name: must be valid Unicode text (no lone surrogate).'
  }
  return clean
}

function checkPassword (password: string, fields: Record<string, string>, field = 'password'): void {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    fields[field] = `Password: at least ${PASSWORD_MIN} characters.`
  } else if (LONE_SURROGATE.test(password)) {
    // It would be hashed as U+FFFD: several different passwords would be the same one.
    fields[field] = 'Password: must be valid Unicode text (no lone surrogate).'
  }
}

/** `YYYY-MM-DD` to a UTC date; '' and null mean none. Invalid or future dates are input errors. */
function parseDob (dob: string | null | undefined, fields: Record<string, string>): Date | null | undefined {
  if (dob === undefined) return undefined
  if (dob === null || dob === '') return null
  const date = new Date(`${dob}T00:00:00.000Z`)
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== dob ||
      date.getUTCFullYear() < 1800 || date.getTime() > Date.now()) {
    fields.dob = 'Date of birth: a real date between 1800 and today.'
    return undefined
  }
  return date
}

const HASHMAP_MAX_DEPTH = 8

/** Why a text cannot be stored as sent, or null. */
function unstorableText (text: string): string | null {
  if (text.includes('\u0000')) return 'text cannot contain the NUL character'
  if (LONE_SURROGATE.test(text)) return 'text must be valid Unicode (no lone surrogate)'
  return null
}

/**
 * Nesting depth of a JSON value, counted without recursion (a hostile body can nest thousands
 * deep), and the first key, string or number that cannot be stored as sent (PostgreSQL's jsonb
 * takes no NUL and no lone surrogate; JSON has no Infinity: 1e400 would come back as null).
 */
function inspectJson (value: unknown, limit: number): { depth: number, problem: string | null } {
  let deepest = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (typeof node === 'string') {
      const problem = unstorableText(node)
      if (problem !== null) return { depth: deepest, problem }
      continue
    }
    if (typeof node === 'number' && !Number.isFinite(node)) return { depth: deepest, problem: 'numbers must be finite' }
    if (node === null || typeof node !== 'object') continue
    deepest = Math.max(deepest, depth)
    if (deepest > limit) return { depth: deepest, problem: null }
    for (const [key, child] of Object.entries(node)) {
      const problem = unstorableText(key)
      if (problem !== null) return { depth: deepest, problem }
      stack.push([child, depth + 1])
    }
  }
  return { depth: deepest, problem: null }
}

function checkHashmap (hashmap: Record<string, unknown> | undefined, fields: Record<string, string>): void {
  if (hashmap === undefined) return
  const { depth, problem } = inspectJson(hashmap, HASHMAP_MAX_DEPTH)
  if (depth > HASHMAP_MAX_DEPTH) {
    fields.hashmap = `Extra attributes: at most ${HASHMAP_MAX_DEPTH} levels of nesting.`
  } else if (problem !== null) {
    fields.hashmap = `Extra attributes: ${problem}.`
  } else if (Buffer.byteLength(JSON.stringify(hashmap)) > HASHMAP_MAX_BYTES) {
    fields.hashmap = `Extra attributes: at most ${HASHMAP_MAX_BYTES} bytes of JSON.`
  }
}

/** Age in whole years on `today` (UTC), as the Flask original computed it. */
export function ageOn (dob: Date | null, today = new Date()): number | null {
  if (dob === null) return null
  let age = today.getUTCFullYear() - dob.getUTCFullYear()
  const beforeBirthday = today.getUTCMonth() < dob.getUTCMonth() ||
    (today.getUTCMonth() === dob.getUTCMonth() && today.getUTCDate() < dob.getUTCDate())
  if (beforeBirthday) age--
  return age
}

// Once per row (rows are replaced, never changed in place): the signed-in user's row comes from
// the session cache on every page.
const dobText = memoizeByObject((user: User) => user.dob === null ? null : user.dob.toISOString().slice(0, 10))

/** The fields the API and pages may show. Built field by field: the hash never leaves. */
export function toPublicUser (user: User): PublicUser {
  const hashmap = user.hashmap !== null && typeof user.hashmap === 'object' && !Array.isArray(user.hashmap)
    ? user.hashmap as Record<string, unknown>
    : {}
  return {
    id: user.id,
    uid: user.uid,
    name: user.name,
    dob: dobText(user),
    age: ageOn(user.dob),
    hashmap,
    role: user.role
  }
}

function isUniqueViolation (err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002'
}

/** Takes its collaborators, not the app, so scripts (seed, import) can use it without a server. */
export function createUsersRepository ({ prisma, passwordHasher, sessionCache }: { prisma: PrismaClient, passwordHasher: PasswordHasher, sessionCache?: SessionCache }) {
  return {
    async findById (id: number, tx: Tx = prisma): Promise<User | null> {
      return tx.user.findUnique({ where: { id } })
    },

    async findByUid (uid: string, tx: Tx = prisma): Promise<User | null> {
      const normalized = normalizeUid(uid)
      // An id that breaks the rules cannot have been stored: no query (PostgreSQL text cannot
      // even hold the NUL character some hostile ids carry).
      if (!isValidUid(normalized)) return null
      return tx.user.findUnique({ where: { uid: normalized } })
    },

    async list (tx: Tx = prisma): Promise<User[]> {
      return tx.user.findMany({ orderBy: { id: 'asc' } })
    },

    async count (tx: Tx = prisma): Promise<number> {
      return tx.user.count()
    },

    /** Validates, hashes and stores a new user. Throws InputError or UidTakenError. */
    async create (input: NewUser, tx: Tx = prisma): Promise<User> {
      const fields: Record<string, string> = {}
      const uid = normalizeUid(input.uid)
      checkUid(uid, fields)
      const name = checkName(input.name, fields)
      checkPassword(input.password, fields)
      const dob = parseDob(input.dob, fields)
      checkHashmap(input.hashmap, fields)
      if (Object.keys(fields).length > 0) throw new InputError(fields)
      const passwordHash = await passwordHasher.hash(input.password)
      try {
        return await tx.user.create({
          data: {
            uid,
            name,
            passwordHash,
            dob: dob ?? null,
            role: input.role ?? 'User',
            hashmap: (input.hashmap ?? {}) as Prisma.InputJsonObject
          }
        })
      } catch (err) {
        if (isUniqueViolation(err)) throw new UidTakenError()
        throw err
      }
    },

    /** Applies allow-listed changes. Whether the caller may make them is the route's decision. */
    async update (id: number, changes: UserChanges, tx: Tx = prisma): Promise<User> {
      const fields: Record<string, string> = {}
      const data: Prisma.UserUpdateInput = {}
      if (changes.name !== undefined) data.name = checkName(changes.name, fields)
      if (changes.dob !== undefined) data.dob = parseDob(changes.dob, fields)
      if (changes.role !== undefined) data.role = changes.role
      if (changes.hashmap !== undefined) {
        checkHashmap(changes.hashmap, fields)
        data.hashmap = changes.hashmap as Prisma.InputJsonObject
      }
      if (changes.password !== undefined) checkPassword(changes.password, fields)
      if (Object.keys(fields).length > 0) throw new InputError(fields)
      if (changes.password !== undefined) data.passwordHash = await passwordHasher.hash(changes.password)
      const user = await tx.user.update({ where: { id }, data })
      // Cached sessions carry the user (name, role): the next request must see the change.
      sessionCache?.forgetUser(id)
      return user
    },

    /** Replaces the stored hash only (e.g. upgrading an old format after a sign-in). */
    async setPasswordHash (id: number, passwordHash: string, tx: Tx = prisma): Promise<void> {
      await tx.user.update({ where: { id }, data: { passwordHash } })
      sessionCache?.forgetUser(id)
    },

    /**
     * Replaces `from` by `to` only if `from` is still the stored hash (one conditional write), so
     * a password changed meanwhile is never overwritten. True when it replaced it.
     */
    async upgradePasswordHash (id: number, from: string, to: string, tx: Tx = prisma): Promise<boolean> {
      const { count } = await tx.user.updateMany({ where: { id, passwordHash: from }, data: { passwordHash: to } })
      sessionCache?.forgetUser(id)
      return count > 0
    },

    /** Deletes a user; their sessions go with them (ON DELETE CASCADE). */
    async delete (id: number, tx: Tx = prisma): Promise<boolean> {
      const { count } = await tx.user.deleteMany({ where: { id } })
      sessionCache?.forgetUser(id)
      return count > 0
    }
  }
}

export default fp(async function usersRepository (fastify) {
  fastify.decorate('usersRepository', createUsersRepository(fastify))
}, { name: 'users-repository', dependencies: ['prisma', 'password-hasher', 'session-cache'] })
