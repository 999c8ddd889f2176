import { Type } from 'typebox'

/** The error body of every JSON response: `{ statusCode, error, message }`, as the Flask API had `message`. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String()
})

/** Standard error responses, referenced by route schemas so the OpenAPI document lists them. */
export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map(code => [code, ErrorSchema]))

/** The hidden CSRF field every HTML form carries. */
export const CsrfField = Type.String({ maxLength: 200 })
