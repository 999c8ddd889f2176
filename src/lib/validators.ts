import AjvCompiler from '@fastify/ajv-compiler'

type ValidatorFactory = AjvCompiler.ValidatorFactory

/**
 * Route validators from two Ajv instances with the app's options (app.ts), differing only in
 * type coercion. Path parameters, query strings and headers are text: they are coerced to
 * their schema's types (`coerceTypes: 'array'`, Fastify's default, so `?page=2` is a number).
 * Bodies are validated as sent: a JSON number, array, boolean or null where the schema wants a
 * string is a 400 (SECURITY.md S23), where one Ajv for everything read `12345678`,
 * `["password"]` and `null` as the strings "12345678", "password" and "". Form bodies are text
 * already (a repeated field is an array, and a 400, as before).
 */
export function buildValidator (): ValidatorFactory {
  const pool = AjvCompiler()
  return (externalSchemas, options) => {
    const coercing = pool(externalSchemas, options)
    if (options?.mode === 'JTD') return coercing // JSON Type Definition schemas: not used here
    const exact = pool(externalSchemas, { ...options, customOptions: { ...options?.customOptions, coerceTypes: false } })
    return route => route.httpPart === 'body' ? exact(route) : coercing(route)
  }
}
