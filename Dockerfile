# Production image: a build stage that compiles everything, a runtime stage with only what
# `node dist/server.js` needs. See docs/decisions/0007-container-image.md.
#
#   docker build -t fastify-portfolio .
#   podman build --format docker --build-arg BASE_IMAGE=localhost/node20-bookworm-local -t fastify-portfolio .
#
# BASE_IMAGE must be Debian bookworm with Node.js 20 (>= 20.19) and npm installed under
# /usr/local, as the official image has them. scripts/container-check.sh builds such an image
# locally where no registry can be pulled from.
ARG BASE_IMAGE=node:20-bookworm-slim

# ---- build: dependencies (better-sqlite3 compiles from source), Prisma client, tsc ----------
FROM ${BASE_IMAGE} AS build

# node-gyp needs a C++ toolchain and Python for better-sqlite3 (no prebuilt binary is fetched).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Prisma would phone home for update checks; nothing here needs it.
ENV CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1

# Dependencies first, so source edits do not invalidate this (slow) layer. The postinstall
# script runs `prisma generate` for both clients (SQLite and PostgreSQL, see docs/decisions/0015),
# which needs both schemas and the config at install time.
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma/schema.prisma ./prisma/schema.prisma
COPY prisma/postgresql/schema.prisma ./prisma/postgresql/schema.prisma
COPY scripts/prisma-generate.mjs scripts/prune-production.mjs scripts/bundle-dependencies.mjs ./scripts/
# Build native addons against the headers that ship with this Node (include/node beside bin/),
# so node-gyp downloads nothing; without them it falls back to downloading headers.
RUN nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")" \
 && if [ -f "$nodedir/include/node/common.gypi" ]; then export npm_config_nodedir="$nodedir"; fi \
 && npm ci --no-audit --no-fund \
 && test -f src/generated/prisma/client.ts && test -f src/generated/prisma-postgresql/client.ts

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && test -f dist/server.js && test -f dist/generated/prisma/client.js \
 && test -f dist/generated/prisma-postgresql/client.js && test -f dist/vendor/typebox.mjs

# Drop devDependencies. --ignore-scripts: pruning only removes packages, and the postinstall
# (prisma generate) would fail now that devDependencies are going.
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund
# Then keep only what production code can reach (scripts/prune-production.mjs says why).
# better-sqlite3 needs only its compiled addon at run time, not the SQLite sources and objects.
RUN node scripts/prune-production.mjs \
 && rm -rf node_modules/.bin node_modules/.package-lock.json \
 && mv node_modules/better-sqlite3/build/Release/better_sqlite3.node /tmp/ \
 && rm -rf node_modules/better-sqlite3/build node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
 && mkdir -p node_modules/better-sqlite3/build/Release \
 && mv /tmp/better_sqlite3.node node_modules/better-sqlite3/build/Release/ \
 && node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()" \
 && test -f node_modules/@prisma/schema-engine-wasm/schema_engine_bg.wasm \
 && test ! -e node_modules/prisma && test ! -e node_modules/typescript

# ---- runtime ----------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime

ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app

# A fixed, unprivileged uid that owns nothing but the instance folder: the code stays read-only
# to the process. 10001 avoids colliding with host users on bind mounts.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /app/instance/volumes \
 && chown -R app:app /app/instance

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY views ./views
COPY public ./public
# Migrations for both databases: DATABASE_URL picks SQLite (file:) or PostgreSQL (postgres://).
COPY prisma/migrations ./prisma/migrations
COPY prisma/postgresql/migrations ./prisma/postgresql/migrations

USER app
# SQLite file, its backups and any runtime state (DATABASE_URL defaults to file:./instance/volumes/sqlite.db).
VOLUME ["/app/instance"]
EXPOSE 3000

# No curl in the slim image: Node's own fetch. Port from the environment, like the server's.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/api/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# close-with-grace finishes in-flight requests and closes the database on SIGTERM.
STOPSIGNAL SIGTERM
# The same node flags as `npm start` (package.json; test/deploy.test.ts checks they match).
CMD ["node", "--enable-source-maps", "--max-semi-space-size=8", "dist/server.js"]
