// Control and format characters (bidirectional controls, zero-width characters, BOM, tag
// characters) and the Unicode line/paragraph separators: invisible, or able to reorder the text
// around them.
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu

/**
 * Text as it was sent, with every invisible character written as `\u{…}`: for places where a
 * reader must see exactly what is stored (the audit trail, a terminal), so that `toby\u202Enimda`
 * cannot pass for another user id and a log line cannot rearrange itself.
 */
export function showInvisible (text: string): string {
  return text.replace(INVISIBLE, c => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`)
}
