import createError from '@fastify/error'

/**
 * The app's named errors. Their messages are written for users and are shown as they are;
 * the root error handler hides the message of anything else.
 */
export const UnauthorizedError = createError('APP_UNAUTHORIZED', 'Please sign in to continue.', 401)
export const InvalidCredentialsError = createError('APP_INVALID_CREDENTIALS', 'Incorrect user id or password.', 401)
export const ForbiddenError = createError('APP_FORBIDDEN', 'You do not have permission to do that.', 403)
export const NotFoundError = createError('APP_NOT_FOUND', '%s not found.', 404)
export const UidTakenError = createError('APP_UID_TAKEN', 'That user id is already taken.', 409)
export const SignupDisabledError = createError('APP_SIGNUP_DISABLED', 'Sign-up is switched off on this site.', 403)
export const CrossSiteRequestError = createError('APP_CROSS_SITE', 'Cross-site requests are not accepted.', 403)
export const UnsupportedMediaTypeError = createError('APP_UNSUPPORTED_MEDIA_TYPE', 'The API accepts only application/json bodies.', 415)
export const BadUrlError = createError('APP_BAD_URL', 'That address is not valid: it has a % not followed by two hexadecimal digits, or bytes that are not UTF-8.', 400)
export const UrlTooLongError = createError('APP_URL_TOO_LONG', 'That address is too long.', 414)

/** Invalid input that passed the schema but broke a rule; `fields` maps form field to message. */
export class InputError extends Error {
  readonly statusCode = 400
  readonly code = 'APP_INVALID_INPUT'
  constructor (readonly fields: Record<string, string>) {
    super(Object.values(fields)[0] ?? 'Invalid input.')
    this.name = 'InputError'
  }
}

/** True for errors whose message was written for users (ours and Fastify's own 4xx). */
export function isExposable (err: { code?: string, statusCode?: number }): boolean {
  const code = err.code ?? ''
  return code.startsWith('APP_') || (code.startsWith('FST_ERR_') && (err.statusCode ?? 500) < 500)
}
export const SelfAdminChangeError = createError('APP_SELF_ADMIN_CHANGE', 'Admins cannot change their own role or delete their own account.', 409)
