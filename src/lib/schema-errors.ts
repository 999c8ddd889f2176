import type { FastifySchemaValidationError } from 'fastify'

/** What one failed alternative of a union asked for, as words ("a string matching …", "null"). */
function wanted (error: FastifySchemaValidationError): string {
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'type': return params.type === 'null' ? 'null' : `of type ${String(params.type)}`
    case 'pattern': return `a string matching ${String(params.pattern)}`
    case 'format': return `a ${String(params.format)} string`
    case 'const': return JSON.stringify(params.allowedValue)
    case 'maxLength': return `a string of at most ${String(params.limit)} characters`
    case 'minLength': return `a string of at least ${String(params.limit)} characters`
    default: return `valid (${error.message ?? 'invalid'})`
  }
}

/**
 * Fastify's `schemaErrorFormatter`: the first field that failed, in one sentence. Ajv reports a
 * union (`"User" | "Admin"`, a date string or null) as every alternative's failure plus "must
 * match a schema in anyOf", which read as `body/role must be equal to constant, body/role must be
 * equal to constant, body/role must match a schema in anyOf`; here the alternatives are merged:
 * `body/role must be one of "User", "Admin"`. Other errors keep Ajv's own words.
 */
export function formatSchemaErrors (errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0]
  if (first === undefined) return new Error(`${dataVar} is invalid`)
  const path = first.instancePath
  const here = errors.filter(e => e.instancePath === path)
  if (!here.some(e => e.keyword === 'anyOf' || e.keyword === 'oneOf')) return new Error(`${dataVar}${path} ${first.message ?? 'is invalid'}`)
  const constants = here.filter(e => e.keyword === 'const').map(wanted)
  const others = here.filter(e => e.keyword !== 'const' && e.keyword !== 'anyOf' && e.keyword !== 'oneOf').map(wanted)
  const choices = [...(constants.length > 0 ? [`one of ${constants.join(', ')}`] : []), ...others]
  return new Error(`${dataVar}${path} must be ${choices.length > 0 ? choices.join(', or ') : 'one of the allowed values'}`)
}
