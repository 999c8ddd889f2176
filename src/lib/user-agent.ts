const BROWSERS: Array<[RegExp, string]> = [
  [/Edg\/(\d+)/, 'Edge'],
  [/OPR\/(\d+)/, 'Opera'],
  [/Firefox\/(\d+)/, 'Firefox'],
  [/(?:HeadlessChrome|Chrome|Chromium)\/(\d+)/, 'Chrome'],
  [/Version\/(\d+)[^ ]* Safari\//, 'Safari'],
  [/curl\/(\d+)/, 'curl']
]
const SYSTEMS: Array<[RegExp, string]> = [
  [/Android/, 'Android'],
  [/iPhone|iPad|iOS/, 'iOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux']
]

/** "Chrome 156 on Linux" from a User-Agent header, for the sessions list; the raw text otherwise. */
export function describeUserAgent (userAgent: string): string {
  if (userAgent.trim() === '') return 'Unknown browser'
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))
  // 60 characters, not UTF-16 units: a cut never splits a character in two.
  if (browser === undefined) return Array.from(userAgent).slice(0, 60).join('')
  const version = browser[0].exec(userAgent)?.[1]
  return `${browser[1]} ${version}${system === undefined ? '' : ` on ${system[1]}`}`
}
