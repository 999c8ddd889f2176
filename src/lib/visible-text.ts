/**
 * One character that shows nothing, or that reorders the text around it (a RegExp character
 * class): controls, format characters (bidirectional controls, zero-width spaces, BOM, tags),
 * other default-ignorable code points (Hangul fillers, variation selectors, the combining
 * grapheme joiner), unassigned and private-use code points, and the line/paragraph separators.
 * Shared by `showInvisible`, the name rule and the user id rule.
 */
export const INVISIBLE_CHAR = '[\\p{Cc}\\p{Cf}\\p{Default_Ignorable_Code_Point}\\p{Cn}\\p{Co}\\u2028\\u2029]'

const INVISIBLE = new RegExp(INVISIBLE_CHAR, 'gu')

/**
 * Text as it was sent, with every invisible character written as `\u{…}`: for places where a
 * reader must see exactly what is stored (the audit trail, a terminal), so that `toby\u202Enimda`
 * or `toby\u3164` cannot pass for another user id and a log line cannot rearrange itself.
 */
export function showInvisible (text: string): string {
  return text.replace(INVISIBLE, c => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`)
}
