#!/usr/bin/env node
/**
 * Bare Fastify references for the public home page:
 *   GET /       hello world: `{"hello":"world"}` (the classic Fastify benchmark);
 *   GET /home   hello world with a template: a template literal HTML page of the same shape
 *               and size as the app's signed-out home page (layout, navbar, two sections), with
 *               the same escaping of its few dynamic values.
 * No logger, no plugins, no headers beyond Fastify's own.
 *
 * Environment: HOST (127.0.0.1), PORT (3200), SIGNUP_ENABLED (true).
 */
import Fastify from 'fastify'

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const e = value => String(value).replace(/[&<>"']/g, c => ESC[c])
const signupEnabled = process.env.SIGNUP_ENABLED !== 'false'

function homePage ({ title, signup }) {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${e(title)} · fastify-portfolio</title>
  <link rel="stylesheet" href="/css/app.css">
  <link rel="icon" href="/favicon.svg" type="image/svg+xml">
  <script src="/js/app.js" defer></script>
</head>
<body>
  <a class="skip-link" href="#main">Skip to content</a>
  <header class="site-header">
  <nav aria-label="Main">
    <a class="brand" href="/">fastify-portfolio</a>
    <ul class="nav-links">
      <li><a href="/" aria-current="page">Home</a></li>
      <li><a href="/table">Table</a></li>
      <li><a href="/docs/api">API</a></li>
    </ul>
    <div class="nav-user">
      <a class="button" href="/login">Sign in</a>${signup ? '\n      <a href="/signup">Sign up</a>' : ''}
    </div>
  </nav>
</header>
  <main id="main" tabindex="-1">
        <section class="hero">
  <h1>Welcome</h1>
  <p>A secure, fast sign-in web app on Fastify: server-rendered pages, a JSON API and a JWT in an HttpOnly cookie.</p>
  <p><a class="button" href="/login">Sign in</a>${signup ? ' or <a href="/signup">create an account</a>' : ''}.</p>
</section>
<section>
  <h2>What is here</h2>
  <ul>
    <li><a href="/table">A public data table</a>, in the spirit of the Flask original's <code>/table/</code>.</li>
    <li>Protected pages: <a href="/profile">your profile</a> and <a href="/users">the users list</a>.</li>
    <li><a href="/docs/api">The JSON API</a>, with its OpenAPI document.</li>
  </ul>
</section>
  </main>
  <footer class="site-footer">
    <p>fastify-portfolio · a Fastify port of the Flask portfolio backend · <a href="/docs/api">API</a></p>
  </footer>
</body>
</html>
`
}

const fastify = Fastify({ logger: false })

fastify.get('/', function hello () {
  return { hello: 'world' }
})

fastify.get('/home', function home (_request, reply) {
  reply.type('text/html; charset=utf-8')
  return homePage({ title: 'Home', signup: signupEnabled })
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => fastify.close().then(() => process.exit(0)))
}

await fastify.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 3200) })
