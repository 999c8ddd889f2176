import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis, RedisOptions } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** Redis shared by every instance (REDIS_URL), or null when none is configured. */
    redis: SharedRedis | null
  }
}

/** What a subscriber to a channel is told: each message, and when the channel goes down or up. */
export interface ChannelListener {
  message (text: string): void
  /** The subscription is (again) live: messages sent from now on arrive. */
  up (): void
  /** The connection is lost: messages may be missed until `up`. */
  down (): void
}

/**
 * Redis for the whole app: one connection for commands (counters, publishing) and one in
 * subscriber mode (Redis forbids other commands on a subscribed connection).
 *
 * Redis is optional and may go away at any time; the app keeps serving. So commands are never
 * queued while disconnected (they fail at once and callers fall back to per-instance state),
 * time out after `COMMAND_TIMEOUT_MS`, and the connections retry in the background forever.
 * See docs/decisions/0019-redis.md.
 */
export interface SharedRedis {
  readonly client: Redis
  /** The subscriber-mode connection (use `subscribe`, not this, to listen to a channel). */
  readonly subscriber: Redis
  /** Prefix of every key and channel (REDIS_KEY_PREFIX), so several apps can share one Redis. */
  readonly keyPrefix: string
  /** The command connection is up (callers use per-instance state when it is not). */
  readonly available: boolean
  /** The subscriber connection is up and subscribed to every channel asked for. */
  readonly subscribed: boolean
  /** `host:port` for logs and health: never the password. */
  readonly where: string
  publish (channel: string, text: string): Promise<void>
  subscribe (channel: string, listener: ChannelListener): Promise<void>
  /** Closes both connections (when the server closes). */
  close (): Promise<void>
}

export const COMMAND_TIMEOUT_MS = 1000
/** At start, how long to wait for Redis before serving without it (it may come up later). */
export const STARTUP_WAIT_MS = 2000

/** Reconnect after 100 ms, 200 ms … then every 2 s, forever. */
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 2000)

/** `host:port` of a Redis URL, for logs: credentials never appear. */
export function redisLocation (url: string): string {
  const { hostname, port } = new URL(url)
  return `${hostname}:${port === '' ? '6379' : port}`
}

export async function createSharedRedis (options: { url: string, keyPrefix: string, log: FastifyBaseLogger }): Promise<SharedRedis> {
  // Loaded only when REDIS_URL is set (about 50 ms of start-up otherwise).
  const { Redis } = await import('ioredis')
  const where = redisLocation(options.url)
  const connectionOptions: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy
  }
  const client = new Redis(options.url, { ...connectionOptions, connectionName: 'fastify-portfolio' })
  const subscriber = new Redis(options.url, { ...connectionOptions, connectionName: 'fastify-portfolio-subscriber', autoResubscribe: false })
  // One warning when Redis is lost (either connection, not every retry), one line when it is back.
  let closing = false
  const down = new Set<Redis>()
  const watch = (connection: Redis) => {
    const lost = (reason: string) => {
      if (closing || down.has(connection)) return
      if (down.size === 0) {
        options.log.warn({ redis: where, reason },
          'Redis is unreachable: serving with per-instance rate limits and throttling, and reading every session from the database until it is back')
      }
      down.add(connection)
    }
    connection.on('ready', () => {
      if (!down.delete(connection) || down.size > 0) return
      options.log.info({ redis: where }, 'Redis is back: shared state resumes')
    })
    // 'close' when an open connection drops; 'error' when connecting fails (e.g. down at start).
    connection.on('close', () => lost('connection closed'))
    connection.on('error', (err: Error) => lost(err.message))
  }
  watch(client)
  watch(subscriber)

  const listeners = new Map<string, ChannelListener>()
  let subscribed = false

  // Every (re)connection subscribes again before saying `up`: until then messages could be missed.
  subscriber.on('ready', () => {
    const channels = [...listeners.keys()]
    if (channels.length === 0) return
    subscriber.subscribe(...channels).then(() => {
      subscribed = true
      for (const listener of listeners.values()) listener.up()
    }, () => { /* the connection dropped again: 'close' says down, the next 'ready' retries */ })
  })
  subscriber.on('close', () => {
    const was = subscribed
    subscribed = false
    if (was) for (const listener of listeners.values()) listener.down()
  })
  subscriber.on('message', (channel: string, text: string) => {
    listeners.get(channel)?.message(text)
  })

  return {
    client,
    subscriber,
    keyPrefix: options.keyPrefix,
    where,
    get available () {
      return client.status === 'ready'
    },
    get subscribed () {
      return subscribed
    },
    async publish (channel, text) {
      await client.publish(options.keyPrefix + channel, text)
    },
    async subscribe (channel, listener) {
      const name = options.keyPrefix + channel
      listeners.set(name, listener)
      if (subscriber.status === 'ready') {
        await subscriber.subscribe(name)
        subscribed = true
        listener.up()
      }
    },
    async close () {
      closing = true
      await Promise.all([client, subscriber].map(c => c.quit().catch(() => c.disconnect())))
    }
  }
}

/** Connects both connections, waiting at most `ms`: a Redis that is down at start is retried in the background. */
async function connect (connections: Redis[], ms: number): Promise<boolean> {
  for (const connection of connections) connection.connect().catch(() => { /* logged by watch(); retried */ })
  // Not events.once: it would reject on the first 'error', and errors only mean "retrying".
  const ready = Promise.all(connections.map(c => c.status === 'ready' ? undefined : new Promise(resolve => c.once('ready', resolve))))
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>(resolve => { timer = setTimeout(resolve, ms, false) })
  try {
    return await Promise.race([ready.then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

export default fp(async function redis (fastify) {
  const settings = fastify.config.redis
  if (settings === null) {
    fastify.decorate('redis', null)
    return
  }
  const shared = await createSharedRedis({ url: settings.url, keyPrefix: settings.keyPrefix, log: fastify.log })
  const connections = [shared.client, shared.subscriber]
  fastify.decorate('redis', shared)
  fastify.addHook('onClose', () => shared.close())
  if (await connect(connections, STARTUP_WAIT_MS)) {
    fastify.log.info({ redis: shared.where }, 'Redis connected: rate limits, throttling and session revocations are shared')
  }
}, { name: 'redis' })
