import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

interface JsonSchema {
  type?: string | string[]
  anyOf?: JsonSchema[]
  const?: unknown
  properties?: Record<string, JsonSchema>
  required?: string[]
  maxLength?: number
  minLength?: number
  pattern?: string
  format?: string
  maxProperties?: number
  description?: string
}

interface OpenApiOperation {
  summary?: string
  security?: unknown[]
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> }
  responses?: Record<string, { description?: string }>
  'x-admin'?: boolean
}

/** "Owner or `role` by Admin" → text and code segments, so the template can show code without raw HTML. */
function segments (text: string): Array<{ text: string, code: boolean }> {
  return text.split('`').map((part, i) => ({ text: part, code: i % 2 === 1 })).filter(s => s.text !== '')
}

function typeOf (schema: JsonSchema): string {
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' | ')
  if (schema.const !== undefined) return JSON.stringify(schema.const)
  if (schema.format) return `${schema.type ?? 'string'} (${schema.format})`
  return Array.isArray(schema.type) ? schema.type.join(' | ') : schema.type ?? 'any'
}

function notes (schema: JsonSchema): string {
  const list: string[] = []
  if (schema.maxLength !== undefined) list.push(`at most ${schema.maxLength} characters`)
  if (schema.pattern !== undefined && schema.pattern !== '^(\\d{4}-\\d{2}-\\d{2})?$') list.push(`pattern ${schema.pattern}`)
  if (schema.pattern === '^(\\d{4}-\\d{2}-\\d{2})?$') list.push('YYYY-MM-DD, or empty')
  if (schema.maxProperties !== undefined) list.push(`object, at most ${schema.maxProperties} keys`)
  return list.join('; ')
}

/** The API reference as a page, built from the same OpenAPI document the API serves. */
const docs: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/api', async function api (_request, reply) {
    const spec = fastify.swagger() as { paths?: Record<string, Record<string, OpenApiOperation>> }
    const operations = Object.entries(spec.paths ?? {}).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => {
        const body = op.requestBody?.content?.['application/json']?.schema
        return {
          id: `${method}-${path}`.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, ''),
          method: method.toUpperCase(),
          path,
          summary: segments(op.summary ?? ''),
          auth: (op.security?.length ?? 0) > 0,
          admin: op['x-admin'] === true,
          fields: Object.entries(body?.properties ?? {}).map(([name, schema]) => ({
            name,
            type: typeOf(schema),
            required: body?.required?.includes(name) ?? false,
            notes: notes(schema)
          })),
          responses: Object.entries(op.responses ?? {}).map(([status, r]) => ({ status, description: r.description ?? '' }))
        }
      }))
    return reply.viewAsync('pages/docs/api', { operations })
  })
}

export default docs
