import { createHmac, sign as signWith, constants, KeyObject } from 'node:crypto'

/** base64url of a string, a Buffer or any JSON value (objects and arrays are JSON-encoded first). */
export function b64url (value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('base64url')
  if (typeof value === 'string') return Buffer.from(value).toString('base64url')
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

export type ForgeKey = string | Buffer | KeyObject | null

/**
 * A JWT built by hand, as SECURITY.md describes: `b64url(header).b64url(payload).signature`.
 * `key` null leaves the signature empty (`alg: none` style, `xxx.yyy.`); a string or Buffer
 * signs with HMAC-SHA256 whatever the header says; a private KeyObject signs with the
 * asymmetric algorithm the header names (RS256, PS256, ES256, EdDSA). A string header or
 * payload is used as the raw segment text (for malformed JSON).
 */
export function forge (header: unknown, payload: unknown, key: ForgeKey): string {
  const input = `${b64url(header)}.${b64url(payload)}`
  if (key === null) return `${input}.`
  if (!(key instanceof KeyObject)) return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
  const alg = (header as { alg?: string }).alg
  const data = Buffer.from(input)
  let signature: Buffer
  switch (alg) {
    case 'RS256':
      signature = signWith('sha256', data, key)
      break
    case 'PS256':
      signature = signWith('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      break
    case 'ES256':
      signature = signWith('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
      break
    case 'EdDSA':
      signature = signWith(null, data, key)
      break
    default:
      throw new Error(`forge: no asymmetric signer for alg ${String(alg)}`)
  }
  return `${input}.${signature.toString('base64url')}`
}

/** Seconds since the epoch, as JWT date claims count. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000)
