import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const home: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', async function show (_request, reply) {
    return reply.viewAsync('pages/home', {})
  })
}

export default home
