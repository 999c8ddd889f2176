import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'

/**
 * The OpenAPI document, built from the route schemas (served at /api/openapi.json; rendered
 * as a page at /docs/api). Page routes are hidden: they are HTML, not API.
 * @see https://github.com/fastify/fastify-swagger
 */
export const autoConfig = (fastify: FastifyInstance): FastifyDynamicSwaggerOptions => ({
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'fastify-portfolio API',
      description: 'JSON API: the same contract as the Flask original. Authenticate with POST /api/authenticate; the session travels in an HttpOnly cookie.',
      version: '1.0.0'
    },
    components: {
      securitySchemes: {
        // The cookie's name in this deployment (`__Host-token` over HTTPS).
        cookieAuth: { type: 'apiKey', in: 'cookie', name: fastify.config.cookie.name }
      }
    }
  },
  hideUntagged: true
})

export default swagger
