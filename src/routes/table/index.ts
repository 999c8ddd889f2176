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
      querystring: Type.Object({
        sort: Type.Optional(Type.Union(COLUMNS.map(c => Type.Literal(c.key)))),
        order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')]))
      }, { additionalProperties: false })
    }
  }, async function index (request, reply) {
    const sort = request.query.sort ?? 'born'
    const order = request.query.order ?? 'asc'
    const key = sort as keyof Pioneer
    const rows = [...PIONEERS].sort((a, b) => {
      const cmp = typeof a[key] === 'number' ? (a[key] as number) - (b[key] as number) : String(a[key]).localeCompare(String(b[key]))
      return order === 'asc' ? cmp : -cmp
    })
    return reply.viewAsync('pages/table/index', { rows, sort, order, columns: COLUMNS })
  })
}

export default table
