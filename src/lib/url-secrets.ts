/**
 * Secrets in URLs: what the logs and the sign-in redirect must not repeat. The app reads its
 * token from the cookie only, but a client may still put one in a link (`?access_token=`, a JWT
 * in a path segment), and a full token must never reach the logs or a `Location` header
 * (SECURITY.md, log checks and S13).
 *
 * Every function here reads its input once, left to right: a URL is attacker-sized (up to the
 * server's header limit), and a backtracking pattern over it cost 120 ms of CPU per request
 * (found by an attack walkthrough).
 */

// A percent-escape; only those of unreserved characters (RFC 3986: letters, digits, - . _ ~)
// are decoded, since they mean the character itself: `%65yJ…` is `eyJ…`, `pass%77ord` is
// `password`. Other escapes stay as sent.
const PERCENT_ESCAPE = /%[0-9A-Fa-f]{2}/g
const UNRESERVED = /^[\w.~-]$/
// Runs of the characters a JWT is written with (base64url and the dots between its parts).
const TOKEN_RUN = /[\w.-]+/g
// Query keys whose value is a credential, whatever it looks like.
const SECRET_KEY = /token|password|secret|csrf|jwt/i
// Credentials in an absolute-form request target (`http://user:password@host/`).
const USERINFO = /^([a-z][a-z\d+.-]*:\/\/)[^/?#@]*@/i

function decodeUnreserved (escape: string): string {
  const char = String.fromCharCode(parseInt(escape.slice(1), 16))
  return UNRESERVED.test(char) ? char : escape
}

/**
 * A run of base64url characters and dots with every JWT in it replaced: three dot-separated
 * parts, the first holding a JSON header's start (`eyJ`), from the `eyJ` on.
 */
function redactJwtsInRun (run: string): string {
  if (!run.includes('eyJ')) return run
  const parts = run.split('.')
  const kept: string[] = []
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string
    const at = part.indexOf('eyJ')
    if (at !== -1 && i + 2 < parts.length) {
      kept.push(`${part.slice(0, at)}[redacted]`)
      i += 2
    } else {
      kept.push(part)
    }
  }
  return kept.join('.')
}

/** `text` with its unreserved percent-escapes decoded and every JWT in it replaced. */
function redactJwts (text: string): string {
  return text.replace(PERCENT_ESCAPE, decodeUnreserved).replace(TOKEN_RUN, redactJwtsInRun)
}

/** Whether `text` holds a JWT (also when some of its characters are percent-escaped). */
export function hasJwtShape (text: string): boolean {
  return redactJwts(text) !== text.replace(PERCENT_ESCAPE, decodeUnreserved)
}

/**
 * A URL as the logs show it: JWTs anywhere, credential-like query values and the credentials
 * of an absolute URL replaced; escapes of unreserved characters decoded (the same URL to the
 * router).
 */
export function redactUrl (url: string): string {
  const plain = redactJwts(url).replace(USERINFO, '$1[redacted]@')
  const start = plain.indexOf('?')
  if (start === -1) return plain
  const hash = plain.indexOf('#', start)
  const end = hash === -1 ? plain.length : hash
  const query = plain.slice(start + 1, end).split('&').map(pair => {
    const eq = pair.indexOf('=')
    return eq !== -1 && SECRET_KEY.test(pair.slice(0, eq)) ? `${pair.slice(0, eq + 1)}[redacted]` : pair
  })
  return `${plain.slice(0, start + 1)}${query.join('&')}${plain.slice(end)}`
}

/** Route parameters as the logs show them (a token can be sent as a path segment too). */
export function redactParams (params: unknown): unknown {
  if (params === null || typeof params !== 'object') return params
  return Object.fromEntries(Object.entries(params).map(([key, value]) => [key, typeof value === 'string' ? redactUrl(value) : value]))
}
