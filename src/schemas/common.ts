import { Type } from 'typebox'

/** The error body of every JSON response: `{ statusCode, error, message }`, as the Flask API had `message`. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String()
})

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: wrong types, unknown fields or a broken rule (see message)',
  401: 'Not signed in, or wrong credentials',
  403: 'Signed in but not allowed, or a cross-site request',
  404: 'No such user',
  409: 'Conflicts with existing data (a taken user id; an Admin changing their own role)',
  415: 'The body is not application/json',
  429: 'Too many attempts; see Retry-After'
}

/** Standard error responses, referenced by route schemas so the OpenAPI document lists them. */
export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map(code => [code, { ...ErrorSchema, description: ERROR_DESCRIPTIONS[code] ?? 'Error' }]))

/** The hidden CSRF field every HTML form carries. */
export const CsrfField = Type.String({ maxLength: 200 })
