import type { FastifyBaseLogger, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { Config } from '../config.ts'
import { redactUrl } from './url-secrets.ts'

/** Pino options for the app, shared by the server and the tests that read its logs. */
export function loggerOptions (config: Config): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level: config.logLevel,
    // Cookies and tokens never reach the logs.
    redact: {
      // err.rawPacket: the raw bytes of a request Node could not parse (Fastify's trace-level
      // "client error" line), cookies and Authorization header included.
      paths: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]', '*.password', '*.passwordHash', 'err.rawPacket'],
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

type Bindings = Parameters<FastifyBaseLogger['child']>[0]
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * A request's logger (`request.log`, `reply.log`): the pino child with the request id, made on
 * first use. Fastify makes one child per request; with the redaction above, pino passes the
 * request id through the redaction of every binding, about 4 % of a light page's requests per
 * CPU-second (docs/decisions/0029). At `warn` or above most requests log nothing, so they never
 * make it (at the default `info`, Fastify's request lines make it for every request): a call
 * below the level returns at once, a call at or above it makes the child and writes exactly what
 * the child would have.
 */
export class RequestLogger implements FastifyBaseLogger {
  readonly #parent: FastifyBaseLogger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions
  #child: FastifyBaseLogger | undefined

  constructor (parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  /** The pino child, made the first time it is needed. */
  #logger (): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }

  #write (level: Level, args: unknown[]): void {
    if (this.#child === undefined && !this.#enabled(level)) return
    const logger = this.#logger()
    Reflect.apply(logger[level], logger, args)
  }

  /** Whether the child would write at this level (the route's level if it sets one, else the parent's, read now). */
  #enabled (level: Level): boolean {
    const parent = this.#parent as { levels?: { values: Record<string, number> }, levelVal?: number }
    if (parent.levels === undefined || parent.levelVal === undefined) return true
    const threshold = this.#options.level === undefined ? parent.levelVal : parent.levels.values[this.#options.level]
    const value = parent.levels.values[level]
    // 'silent' is the highest value there is: nothing is written.
    return value !== undefined && threshold !== undefined && value >= threshold
  }

  get level (): string { return this.#child?.level ?? this.#options.level ?? this.#parent.level }
  set level (level: string) { this.#logger().level = level }

  // A method taken off the logger (`const warn = request.log.warn`) has no logger to write to:
  // it does nothing rather than throw, as pino's methods below the level do.
  fatal (...args: unknown[]): void { if (this instanceof RequestLogger) this.#write('fatal', args) }
  error (...args: unknown[]): void { if (this instanceof RequestLogger) this.#write('error', args) }
  warn (...args: unknown[]): void { if (this instanceof RequestLogger) this.#write('warn', args) }
  info (...args: unknown[]): void { if (this instanceof RequestLogger) this.#write('info', args) }
  debug (...args: unknown[]): void { if (this instanceof RequestLogger) this.#write('debug', args) }
  trace (...args: unknown[]): void { if (this instanceof RequestLogger) this.#write('trace', args) }
  silent (): void {}

  child (bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger().child(bindings, options)
  }
}

/** Fastify's `childLoggerFactory`: each request's logger is a {@link RequestLogger}. */
export function requestLogger (parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new RequestLogger(parent, bindings, options)
}
