import { hasJwtShape } from './url-secrets.ts'

const BASE = 'http://same-origin.invalid'

// Query keys that carry credentials. They are never copied into a sign-in redirect: tokens
// must not travel in URLs (Location, history, Referer).
const CREDENTIAL_KEYS = /^(token|access_token|id_token|refresh_token|jwt|session|password|secret|api_key|key)$/i

/**
 * The `next` to send a signed-out visitor to /login with: the page they asked for, minus any
 * credential-looking query parameters (by name, or a JWT as the value under any name). Encoded
 * for a query string.
 */
export function returnTo (url: string): string {
  const parsed = new URL(url, BASE)
  for (const [key, value] of [...parsed.searchParams]) {
    if (CREDENTIAL_KEYS.test(key) || hasJwtShape(value)) parsed.searchParams.delete(key)
  }
  return encodeURIComponent(parsed.pathname + parsed.search)
}

/**
 * The `next` a sign-in may redirect to: a path on this site, or null. Rejects absolute and
 * protocol-relative URLs (`//evil`, `/\evil`), backslashes and control characters, so the
 * `Location` header is always a same-origin path starting with a single `/`.
 */
export function safeNextPath (next: unknown): string | null {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2048) return null
  if (!next.startsWith('/') || next.startsWith('//')) return null
  // Backslashes are read as slashes by browsers; control characters could split headers.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return null
  let url: URL
  try {
    url = new URL(next, BASE)
  } catch {
    return null
  }
  if (url.origin !== BASE) return null
  const path = url.pathname + url.search + url.hash
  return path.startsWith('//') ? null : path
}
