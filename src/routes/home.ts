import type { PageCsrfToken } from '../plugins/app/csrf.ts'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'

const HTML = 'text/html; charset=utf-8'

const home: FastifyPluginAsyncTypebox = async (fastify) => {
  // Outside development (where templates are re-read on every render too), the page a signed-out
  // visitor without a flash message gets is rendered once and reused: its inputs are then all
  // fixed (no user, no flash, path '/', the configuration). It is kept only if rendering it did
  // not ask for a CSRF token, so a form added to it later can never share one visitor's token.
  const reuse = fastify.config.env !== 'development'
  // Kept as bytes: sent as they are, with no encoding or length to work out per request.
  let signedOutPage: Buffer | undefined

  // Not async: the reused page is sent with no promise to settle.
  fastify.get('/', function show (request, reply) {
    const anonymous = request.user === null && reply.locals.flash === null && reply.locals.currentPath === '/'
    if (reuse && anonymous && signedOutPage !== undefined) {
      reply.type(HTML)
      return signedOutPage
    }
    if (!reuse || !anonymous) return reply.viewAsync('pages/home', {})
    return renderSignedOutPage(reply)
  })

  async function renderSignedOutPage (reply: FastifyReply): Promise<string> {
    let usedToken = false
    const csrf = reply.locals.csrf as PageCsrfToken
    const html = await reply.viewAsync('pages/home', { csrf: { token: () => { usedToken = true; return csrf.token() } } })
    if (!usedToken) signedOutPage = Buffer.from(html)
    return html
  }
}

export default home
