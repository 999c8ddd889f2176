import { hkdfSync } from 'node:crypto'

/**
 * A key for one purpose derived from the app secret (HKDF-SHA256), so the JWT key, the cookie
 * signing key and the CSRF key are distinct and none reveals another.
 */
export function deriveKey (secret: string, purpose: string): string {
  return Buffer.from(hkdfSync('sha256', secret, 'fastify-portfolio', purpose, 32)).toString('base64url')
}
