import { STATUS_CODES } from 'node:http'
import { EtaFileResolutionError } from 'eta'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Prisma } from '../generated/prisma/client.ts'
import { PageCsrfToken } from '../plugins/app/csrf.ts'
import { BadUrlError, isExposable, UrlTooLongError } from './errors.ts'
import { returnTo } from './next-path.ts'
import { redactParams, redactUrl } from './url-secrets.ts'

const GENERIC_5XX = 'Something went wrong on our side. Please try again in a moment.'
const PAGE_TEMPLATES = new Set([403, 404, 429])

type AppError = Partial<FastifyError> & { expose?: boolean, retryAfterSeconds?: number }

// What a person sees on a page for errors whose technical text is meant for API clients.
const PAGE_MESSAGES = {
  invalidForm: 'Some of what was sent could not be read. Please go back, check the form and try again.',
  expiredForm: 'This form has expired: it was opened before you signed in or out, or too long ago. Please reload the page and try again.',
  notFound: 'We could not find that page.'
}

/** A page-friendly version of an error: bad ids are missing pages, CSRF failures are expired forms. */
function forPage (err: AppError, status: number, message: string): { status: number, message: string } {
  const code = err.code ?? ''
  if (code === 'FST_ERR_VALIDATION') {
    return err.validationContext === 'params' ? { status: 404, message: PAGE_MESSAGES.notFound } : { status, message: PAGE_MESSAGES.invalidForm }
  }
  if (code.startsWith('FST_CSRF_')) return { status, message: PAGE_MESSAGES.expiredForm }
  return { status, message }
}

/** The HTTP status an error stands for. Anything unknown is a 500. */
export function statusFor (err: AppError): number {
  const code = err.code ?? ''
  // Every token problem is "not signed in", whichever library layer noticed it.
  if (code.startsWith('FST_JWT_') || code.startsWith('FAST_JWT_')) return 401
  // (Eta names it 'EtaFileResolution Error', with a space: compare the class, not the name.)
  if (err instanceof EtaFileResolutionError) return 404
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === 'P2002') return 409
    if (err.code === 'P2025') return 404
  }
  if (err instanceof Prisma.PrismaClientInitializationError) return 503
  const status = err.statusCode ?? 500
  return status >= 400 && status < 600 ? status : 500
}

/** The message users may see: ours and Fastify's 4xx texts; a generic one for everything else. */
function publicMessage (err: AppError, status: number): string {
  if (status >= 500) return status === 503 ? 'The service is temporarily unavailable. Please try again shortly.' : GENERIC_5XX
  if (status === 409) return err.code?.startsWith('APP_') ? err.message ?? '' : 'That conflicts with existing data.'
  if (err.expose === true || isExposable(err) || err.code?.startsWith('FST_CSRF_')) return err.message ?? STATUS_CODES[status] ?? 'Error'
  if (status === 401) return 'Please sign in to continue.'
  return STATUS_CODES[status] ?? 'Error'
}

/** JSON for `/api`, and for page requests whose client asks for JSON rather than HTML. */
export function wantsJson (request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? ''
  return accept.includes('application/json') && !accept.includes('text/html')
}

export function errorBody (status: number, message: string) {
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message }
}

function logError (request: FastifyRequest, err: AppError, status: number): void {
  const context = { err, method: request.method, url: redactUrl(request.url), params: redactParams(request.params), statusCode: status }
  if (status >= 500) request.log.error(context, 'request failed')
  else request.log.info({ ...context, err: { code: err.code, message: err.message } }, 'request rejected')
}

/** Renders an error page from the layout; a template failure falls back to plain HTML, never to the default handler. */
export async function renderErrorPage (request: FastifyRequest, reply: FastifyReply, status: number, message: string) {
  const template = PAGE_TEMPLATES.has(status) ? String(status) : status >= 500 ? '500' : '400'
  reply.code(status)
  try {
    const html = await reply.viewAsync(`errors/${template}`, {
      title: `${status} ${STATUS_CODES[status] ?? 'Error'}`,
      status,
      message,
      currentUser: request.user,
      // The navbar's sign-out form asks for it only when someone is signed in.
      csrf: new PageCsrfToken(reply)
    })
    return reply.type('text/html; charset=utf-8').send(html)
  } catch (renderErr) {
    request.log.error({ err: renderErr }, 'error page failed to render')
    return reply.type('text/html; charset=utf-8').send(plainErrorPage(status, STATUS_CODES[status] ?? 'Error'))
  }
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** A page without the layout or templates, for when they cannot be used. */
function plainErrorPage (status: number, message: string): string {
  const text = message.replace(/[&<>"']/g, c => HTML_ESCAPES[c]!)
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${status} ${STATUS_CODES[status] ?? 'Error'}</title>` +
    `<link rel="stylesheet" href="/css/app.css"></head><body><main><h1>${status} ${STATUS_CODES[status] ?? 'Error'}</h1><p>${text}</p>` +
    '<p><a href="/">Home</a></p></main></body></html>'
}

/**
 * The error handler for a scope. `json: 'always'` for the API; `'negotiate'` for pages, which
 * answer JSON only to clients that ask for it. Sign-in problems on pages become a redirect.
 */
export function createErrorHandler (mode: { json: 'always' | 'negotiate' }) {
  return async function errorHandler (err: AppError, request: FastifyRequest, reply: FastifyReply) {
    const status = statusFor(err)
    logError(request, err, status)
    const message = publicMessage(err, status)
    if (status === 429 && err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds))
    if (mode.json === 'always' || wantsJson(request)) {
      return reply.code(status).type('application/json; charset=utf-8').send(errorBody(status, message))
    }
    if (status === 401) {
      return reply.redirect(`/login?next=${returnTo(request.url)}`, 303)
    }
    const page = forPage(err, status, message)
    return renderErrorPage(request, reply, page.status, page.message)
  }
}

export async function notFoundPage (request: FastifyRequest, reply: FastifyReply) {
  const message = PAGE_MESSAGES.notFound
  if (wantsJson(request)) return reply.code(404).send(errorBody(404, message))
  return renderErrorPage(request, reply, 404, message)
}

// Fastify's errors found while routing, as ours (theirs echo the path); anything else is a 500.
const ROUTING_ERRORS: Record<string, () => AppError> = {
  FST_ERR_BAD_URL: () => new BadUrlError(),
  FST_ERR_MAX_PARAM_LENGTH: () => new UrlTooLongError()
}

/**
 * Fastify answers a URL it cannot decode (`/%`, `/users/%ZZ`) or a path parameter over
 * `maxParamLength` while routing, so before any hook and without the app's decorators: its own
 * JSON named the framework's error code, echoed the path, had none of the security headers and
 * was not logged. This `frameworkErrors` handler answers as the app does elsewhere: JSON under
 * /api and for clients asking for it, else a page (a plain one: the templates need what the hooks
 * set up), with the security headers.
 */
export function createFrameworkErrorHandler (securityHeaders: Record<string, string>) {
  return function frameworkErrors (err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    const error: AppError = ROUTING_ERRORS[err.code]?.() ?? Object.assign(new Error(err.message), { statusCode: 500, cause: err })
    const status = statusFor(error)
    logError(request, error, status)
    const message = publicMessage(error, status)
    const url = request.raw.url ?? ''
    // 414 is cacheable by default (RFC 9110): an answer about one bad URL is kept by no cache.
    reply.headers(securityHeaders).header('cache-control', 'no-store').code(status)
    if (url === '/api' || url.startsWith('/api/') || url.startsWith('/api?') || wantsJson(request)) {
      return reply.type('application/json; charset=utf-8').send(errorBody(status, message))
    }
    return reply.type('text/html; charset=utf-8').send(plainErrorPage(status, message))
  }
}
