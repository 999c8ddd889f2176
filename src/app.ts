import { join } from 'node:path'
import autoload from '@fastify/autoload'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { Config } from './config.ts'
import { createErrorHandler, createFrameworkErrorHandler, notFoundPage } from './lib/error-handler.ts'
import { requestLogger } from './lib/logger.ts'
import { formatSchemaErrors } from './lib/schema-errors.ts'
import { buildValidator } from './lib/validators.ts'
import { helmetOptions, securityHeaders } from './plugins/external/helmet.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface AppOptions {
  config: Config
}

const here = import.meta.dirname

/**
 * Options for the Fastify factory, shared by server.ts and the tests so both validate and
 * parse exactly alike.
 */
export function serverOptions (config: Config): FastifyServerOptions {
  return {
    // A hop count is valid at runtime (proxy-addr) though Fastify's types list only string | boolean.
    trustProxy: config.trustProxy as boolean | string,
    bodyLimit: 1024 * 1024,
    // One sentence per rejected request, unions merged ("must be one of "User", "Admin"").
    schemaErrorFormatter: formatSchemaErrors,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestTimeout: 30_000,
    return503OnClosing: true,
    // Each request's pino child is made when the request first logs at an enabled level.
    childLoggerFactory: requestLogger,
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
    // URLs Fastify refuses while routing (not decodable, a parameter over maxParamLength) are
    // answered before any hook runs: as our 400/414, with our headers (lib/error-handler.ts).
    frameworkErrors: createFrameworkErrorHandler(securityHeaders(helmetOptions(config))),
    // Bodies are validated without type coercion, parameters and query strings with it.
    schemaController: { compilersFactory: { buildValidator: buildValidator() } },
    ajv: {
      customOptions: {
        // Unknown fields are rejected (400), not silently dropped: every object schema says
        // additionalProperties: false. See docs/decisions/0004-unknown-fields-are-rejected.md.
        removeAdditional: false,
        coerceTypes: 'array',
        allErrors: false,
        // Start-up: every route's validator is compiled before the first request (a fifth of the
        // cold start). The route schemas are checked against the JSON Schema meta-schema where
        // they are written and tested, not again at every production start; and Ajv's extra
        // pass over the generated code is skipped (it saves no measurable time per request).
        validateSchema: config.env !== 'production',
        code: { optimize: false }
      }
    }
  }
}

/** The whole app as a plugin: external plugins, then ours, then the routes. */
export default async function app (fastify: FastifyInstance, opts: AppOptions) {
  fastify.decorate('config', opts.config)

  // 1. Ecosystem plugins (thin wrappers configured from fastify.config).
  await fastify.register(autoload, { dir: join(here, 'plugins/external'), options: {} })
  // 2. Our plugins: database, hashing, repositories, auth, CSRF, flash.
  await fastify.register(autoload, { dir: join(here, 'plugins/app'), options: {} })

  // 3. Errors: one handler for pages (the API scope sets its own JSON one).
  fastify.setErrorHandler(createErrorHandler({ json: 'negotiate' }))
  fastify.setNotFoundHandler(notFoundPage)

  // 4. Routes: one folder per URL segment; a folder's autohooks.ts guards its subtree.
  await fastify.register(autoload, {
    dir: join(here, 'routes'),
    autoHooks: true,
    cascadeHooks: true,
    options: {}
  })
}
