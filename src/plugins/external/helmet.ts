import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import helmet, { type HelmetOptions } from 'helmet'
import type { Config } from '../../config.ts'

/**
 * Security headers, tightened beyond helmet's defaults: no inline script or style at all
 * (the pages load only same-origin files), no framing, no `<base>`, forms post only here.
 * @see https://helmetjs.github.io
 */
export const helmetOptions = (config: Pick<Config, 'cookie'>): HelmetOptions => ({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'"],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
      ...(config.cookie.secure ? { upgradeInsecureRequests: [] } : {})
    }
  },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
  // HSTS only means something over HTTPS; sent when cookies are Secure (an HTTPS deployment).
  strictTransportSecurity: config.cookie.secure
    ? { maxAge: 31536000, includeSubDomains: true }
    : false,
  frameguard: { action: 'deny' }
})

export const autoConfig = (fastify: FastifyInstance): HelmetOptions => helmetOptions(fastify.config)

/**
 * The headers helmet's middleware sets for these options, collected once. None of them depends
 * on the request: the policy has no nonces and no directive computed per request (helmet calls
 * function-valued directives with the request; there are none here, and `{}` would break them).
 */
export function securityHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const collector = {
    setHeader (name: string, value: string) { headers[name.toLowerCase()] = value },
    removeHeader () {}
  }
  helmet(options)({} as IncomingMessage, collector as unknown as ServerResponse, (err?: unknown) => { if (err) throw err })
  return headers
}

/**
 * Helmet's headers on every response (pages, API, static files, errors and 404s alike),
 * computed once at start. @fastify/helmet runs `helmet(options)` (option parsing, CSP
 * serialisation) again for every request, which was 6 % of a page's CPU; the headers are the
 * same ones, byte for byte (test/plugins/security-headers.test.ts).
 */
export default fp(async function securityHeadersPlugin (fastify: FastifyInstance, options: HelmetOptions) {
  const headers = securityHeaders(options)
  fastify.addHook('onRequest', function setSecurityHeaders (_request, reply, done) {
    reply.headers(headers)
    done()
  })
}, { name: 'security-headers' })
