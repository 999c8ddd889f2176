import type { FastifyInstance } from 'fastify'
import { isSafeMethod, PageCsrfToken } from '../plugins/app/csrf.ts'

/**
 * Every route below this folder: pages get a CSRF token and the pending flash message before
 * rendering; every state-changing request must carry a valid CSRF token (checked once the
 * body is parsed). The API opts out with `config.csrf: false` (see api/autohooks.ts).
 */
export default async function pageHooks (fastify: FastifyInstance) {
  fastify.addHook('preHandler', function csrfAndFlash (request, reply, done) {
    if (request.routeOptions.config.csrf === false || request.is404) return done()
    const locals = reply.locals
    // Made when a form asks for it (`it.csrf.token()`), once per page: a page without forms
    // (the signed-out home page) costs no HMAC and sets no CSRF cookie. A form re-rendered
    // after a failed post gets a token too.
    locals.csrf = new PageCsrfToken(reply)
    // For the navbar's aria-current="page".
    locals.currentPath = request.url.split('?')[0]
    if (isSafeMethod(request.method)) {
      reply.locals.flash = fastify.takeFlash(request, reply)
      return done()
    }
    fastify.csrfProtection(request, reply, done)
  })
}
