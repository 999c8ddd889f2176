import type { FastifyInstance } from 'fastify'
import type { User } from '../src/generated/prisma/client.ts'
import type { Role } from '../src/schemas/users.ts'

let sequence = 0

export interface UserOptions {
  uid?: string
  name?: string
  password?: string
  role?: Role
  dob?: string | null
}

/** A user with readable defaults; returns the row and the plain password. */
export async function createUser (fastify: FastifyInstance, options: UserOptions = {}): Promise<{ user: User, password: string }> {
  sequence++
  const password = options.password ?? `password-${sequence}-ok`
  const user = await fastify.usersRepository.create({
    uid: options.uid ?? `user${sequence}x${process.pid}`,
    name: options.name ?? `Test User ${sequence}`,
    password,
    dob: options.dob ?? '1990-05-17',
    role: options.role ?? 'User'
  })
  return { user, password }
}

export const createAdmin = (fastify: FastifyInstance, options: UserOptions = {}) => createUser(fastify, { ...options, role: 'Admin' })

/** Row counts of every table: equal before and after means nothing was stored. */
export async function snapshot (fastify: FastifyInstance) {
  const [users, sessions, rows] = await Promise.all([
    fastify.prisma.user.count(),
    fastify.prisma.session.count(),
    fastify.prisma.user.findMany({ orderBy: { id: 'asc' } })
  ])
  return { users, sessions, rows: JSON.stringify(rows) }
}
