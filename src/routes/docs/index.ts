import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

interface OpenApiOperation {
  summary?: string
  description?: string
  security?: unknown[]
  requestBody?: { content?: Record<string, { schema?: unknown }> }
  responses?: Record<string, { description?: string }>
  'x-admin'?: boolean
}

/** The API reference as a page, built from the same OpenAPI document the API serves. */
const docs: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/api', async function api (_request, reply) {
    const spec = fastify.swagger() as { paths?: Record<string, Record<string, OpenApiOperation>> }
    const operations = Object.entries(spec.paths ?? {}).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        summary: op.summary ?? op.description ?? '',
        auth: (op.security?.length ?? 0) > 0,
        admin: op['x-admin'] === true,
        body: op.requestBody?.content?.['application/json']?.schema === undefined
          ? null
          : JSON.stringify(op.requestBody.content['application/json'].schema, null, 2),
        responses: Object.entries(op.responses ?? {}).map(([status, r]) => ({ status, description: r.description ?? '' }))
      })))
    return reply.viewAsync('pages/docs/api', { operations })
  })
}

export default docs
