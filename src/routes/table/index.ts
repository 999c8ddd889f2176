import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { PIONEERS, type Pioneer } from '../../data/pioneers.ts'

const COLUMNS = [
  { key: 'name', label: 'Name' },
  { key: 'born', label: 'Born' },
  { key: 'field', label: 'Field' },
  { key: 'knownFor', label: 'Known for' }
] as const

/** A public, server-sorted data table (the Flask original's /table/ page). */
const table: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      // Lenient on purpose: a stale or hand-edited link gets the default order, not an error page.
      querystring: Type.Object({
        sort: Type.Optional(Type.String({ maxLength: 20 })),
        order: Type.Optional(Type.String({ maxLength: 20 }))
      })
    }
  }, async function index (request, reply) {
    const column = COLUMNS.find(c => c.key === request.query.sort) ?? COLUMNS[1]
    const sort = column.key
    const order = request.query.order === 'desc' ? 'desc' : 'asc'
    const key = sort as keyof Pioneer
    const rows = [...PIONEERS].sort((a, b) => {
      const cmp = typeof a[key] === 'number' ? (a[key] as number) - (b[key] as number) : String(a[key]).localeCompare(String(b[key]))
      return order === 'asc' ? cmp : -cmp
    })
    return reply.viewAsync('pages/table/index', { rows, sort, sortLabel: column.label, order, columns: COLUMNS })
  })
}

export default table
