/**
 * Home page total transfer, as a first visit in a browser would load it: the HTML, then every
 * resource it references (stylesheets, scripts, icons, images, media, frames; url() and
 * @import inside stylesheets; static imports inside scripts). Same-origin resources are fetched
 * and their bytes summed as sent (no decoding); other-origin ones are only counted and listed.
 * Plain links (<a href>) are navigation, not part of the page load.
 */
import { request } from './proc.mjs'

const BROWSER_HEADERS = {
  accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
  'accept-encoding': 'gzip, deflate, br',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) fastify-portfolio-bench'
}

const RESOURCE_RELS = /\b(stylesheet|icon|apple-touch-icon|preload|modulepreload|manifest|mask-icon)\b/i

function attr (tag, name) {
  const m = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag)
  return m === null ? undefined : (m[2] ?? m[3] ?? m[4])
}

function srcsetUrls (value) {
  return value === undefined ? [] : value.split(',').map(s => s.trim().split(/\s+/)[0]).filter(Boolean)
}

/** Resource URLs an HTML document makes a browser load. */
export function htmlResources (html) {
  const urls = []
  let hasIcon = false
  for (const [tag] of html.matchAll(/<(link|script|img|source|video|audio|iframe|embed|object|input|track)\b[^>]*>/gi)) {
    const kind = tag.slice(1).split(/[\s>]/)[0].toLowerCase()
    if (kind === 'link') {
      const rel = attr(tag, 'rel') ?? ''
      if (!RESOURCE_RELS.test(rel)) continue
      if (/icon/i.test(rel)) hasIcon = true
      urls.push(attr(tag, 'href'))
    } else if (kind === 'object') {
      urls.push(attr(tag, 'data'))
    } else if (kind === 'input') {
      if ((attr(tag, 'type') ?? '').toLowerCase() === 'image') urls.push(attr(tag, 'src'))
    } else {
      urls.push(attr(tag, 'src'), attr(tag, 'poster'), ...srcsetUrls(attr(tag, 'srcset')))
    }
  }
  for (const [, css] of html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)) urls.push(...cssResources(css))
  for (const [, value] of html.matchAll(/\sstyle\s*=\s*"([^"]*)"/gi)) urls.push(...cssResources(value))
  // Without a declared icon, browsers ask for /favicon.ico.
  if (!hasIcon) urls.push('/favicon.ico')
  return urls.filter(u => u !== undefined && u !== '' && !u.startsWith('data:'))
}

function cssResources (css) {
  const urls = []
  for (const [, , a, b, c] of css.matchAll(/url\(\s*("([^"]*)"|'([^']*)'|([^)]*))\s*\)/gi)) urls.push((a ?? b ?? c).trim())
  for (const [, a, b] of css.matchAll(/@import\s+(?:"([^"]*)"|'([^']*)')/gi)) urls.push(a ?? b)
  return urls
}

function jsResources (js) {
  const urls = []
  for (const [, a] of js.matchAll(/(?:^|[;\n])\s*import\s+(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/g)) urls.push(a)
  for (const [, a] of js.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) urls.push(a)
  return urls
}

export async function measureHomeTransfer (base, path = '/') {
  const origin = new URL(base).origin
  const resources = []
  const thirdParty = []
  const seen = new Set()

  async function load (url, kind) {
    const res = await request(url, { headers: BROWSER_HEADERS })
    resources.push({
      url: url.startsWith(origin) ? url.slice(origin.length) : url,
      kind,
      status: res.status,
      contentType: res.headers['content-type'] ?? '',
      contentEncoding: res.headers['content-encoding'] ?? 'identity',
      bodyBytes: res.body.length,
      headBytes: res.headBytes
    })
    return res
  }

  async function follow (refs, fromUrl, kind) {
    for (const ref of refs) {
      let url
      try {
        url = new URL(ref, fromUrl)
      } catch {
        continue
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') continue
      url.hash = ''
      const key = url.href
      if (seen.has(key)) continue
      seen.add(key)
      if (url.origin !== origin) {
        thirdParty.push(key)
        continue
      }
      const res = await load(key, kind)
      if (res.status !== 200) continue
      const type = res.headers['content-type'] ?? ''
      const encoded = (res.headers['content-encoding'] ?? 'identity') !== 'identity'
      if (encoded) continue // cannot scan inside; the bytes still count
      if (type.startsWith('text/css')) await follow(cssResources(res.body.toString('utf8')), key, 'from-css')
      else if (/javascript/.test(type)) await follow(jsResources(res.body.toString('utf8')), key, 'from-js')
    }
  }

  const pageUrl = new URL(path, base).href
  seen.add(pageUrl)
  const page = await load(pageUrl, 'html')
  if (page.status !== 200) throw new Error(`GET ${path} answered ${page.status}`)
  await follow(htmlResources(page.body.toString('utf8')), pageUrl, 'from-html')

  const ok = resources.filter(r => r.status === 200)
  return {
    path,
    requests: resources.length,
    bodyBytes: ok.reduce((s, r) => s + r.bodyBytes, 0),
    bytesWithHeaders: resources.reduce((s, r) => s + r.bodyBytes + r.headBytes, 0),
    thirdPartyCount: thirdParty.length,
    thirdParty,
    failed: resources.filter(r => r.status !== 200).map(r => `${r.url} (${r.status})`),
    resources
  }
}
