import type { FastifyRequest, FastifyServerOptions } from 'fastify'
import type { Config } from '../config.ts'

// A JWT anywhere in a URL (three base64url parts, the first a JSON header: "eyJ").
const JWT_SHAPE = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g
// Query parameters whose value is a credential, whatever it looks like.
const SECRET_PARAM = /([?&][^=&#]*(?:token|password|secret|csrf|jwt)[^=&#]*=)[^&#]*/gi

/**
 * A URL as the logs show it: tokens and credential-like query values replaced. The app reads
 * its token from the cookie only, but a client may still put one in a link (`?access_token=`),
 * and a full token must never reach the logs (SECURITY.md, log checks).
 */
export function redactUrl (url: string): string {
  return url.replace(JWT_SHAPE, '[redacted]').replace(SECRET_PARAM, '$1[redacted]')
}

/** Route parameters as the logs show them (a token can be sent as a path segment too). */
export function redactParams (params: unknown): unknown {
  if (params === null || typeof params !== 'object') return params
  return Object.fromEntries(Object.entries(params).map(([key, value]) => [key, typeof value === 'string' ? redactUrl(value) : value]))
}

/** Pino options for the app, shared by the server and the tests that read its logs. */
export function loggerOptions (config: Config): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level: config.logLevel,
    // Cookies and tokens never reach the logs.
    redact: {
      paths: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]', '*.password', '*.passwordHash'],
      censor: '[redacted]'
    },
    serializers: {
      // Fastify's own request fields, with the URL redacted.
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: redactUrl(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort
      })
    },
    // Human-readable output only for a developer's terminal; JSON lines everywhere else.
    ...(process.stdout.isTTY && config.env === 'development'
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } } }
      : {})
  }
}
