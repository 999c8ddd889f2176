import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

/** GET /api/openapi.json: the OpenAPI 3.1 document built from the route schemas. */
const openapi: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/openapi.json', { config: { public: true } }, async function show () {
    return fastify.swagger()
  })
}

export default openapi
