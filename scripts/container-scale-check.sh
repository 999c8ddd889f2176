#!/usr/bin/env bash
# Runs several containers of the production image as the compose `scale` profile does (PostgreSQL,
# Redis, MIGRATE_ON_START on every one, started together), but on the host's PostgreSQL and Redis,
# since their official images cannot be pulled here. Checks: every container migrates or waits and
# gets healthy, a user signed up on one signs in on another, that cookie works on every container,
# and a sign-out on one is refused by the others within SESSION_CACHE_MS (sooner with Redis).
# Where nginx is installed (apt-get install nginx), the profile's own nginx template is put in front
# of them on loopback (Debian's nginx predates `resolve`, so the replicas are listed by port):
# a sign-in through it passes the CSRF Origin check, and the app records the client's address from
# nginx's X-Forwarded-For, not one the client forged.
# Prints time-to-healthy and SIGTERM stop times. See docs/decisions/0016-compose-scale-profile.md.
#
# Usage: scripts/container-scale-check.sh   (after scripts/container-check.sh has built the image)
# Env:   IMAGE=localhost/fastify-portfolio:check   the image to run
#        REPLICAS=3                               containers to run
#        BASE_PORT=13100                          container i listens on 127.0.0.1:BASE_PORT+i
#        PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres   where to create the database
#        REDIS_URL=redis://127.0.0.1:6379         shared by the containers (keys under a per-run prefix)
#        KEEP=1                                   keep the containers and the database
# The database (fastify_portfolio_scale_<pid>_<time>) and the Redis keys are removed at the end,
# also on failure.
set -euo pipefail

cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/fastify-portfolio:check}
REPLICAS=${REPLICAS:-3}
BASE_PORT=${BASE_PORT:-13100}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
RUN_ID="$$_$(date +%s)"
DB="fastify_portfolio_scale_$RUN_ID"
DATABASE_URL="${PG_ADMIN_URL%/*}/$DB"
REDIS_KEY_PREFIX="fastify-portfolio-scale-$RUN_ID:"
# The app's own bound for other instances' caches (SESSION_CACHE_MS default) plus polling slack.
REVOCATION_LIMIT_MS=7000
WORK=$(mktemp -d /tmp/container-scale-check.XXXXXX)
STEP=setup
NAMES=()
NGINX_DIR=$WORK/nginx
NGINX_PORT=$BASE_PORT

step () { STEP=$1; printf '\n==> %s\n' "$1"; }
fail () { printf '\ncontainer-scale-check: FAILED at "%s": %s\n' "$STEP" "$*" >&2; exit 1; }
now_ms () { date +%s%3N; }
url () { echo "http://127.0.0.1:$(( BASE_PORT + $1 ))"; }
redis_cli () { redis-cli -u "$REDIS_URL" "$@"; }

cleanup () {
  local rc=$?
  [ -f "$NGINX_DIR/nginx.pid" ] && kill "$(cat "$NGINX_DIR/nginx.pid")" 2>/dev/null || true
  if [ "${KEEP:-0}" != 1 ]; then
    for name in "${NAMES[@]}"; do podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; done
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 \
      || echo "note: could not drop database $DB" >&2
    redis_cli --scan --pattern "$REDIS_KEY_PREFIX*" 2>/dev/null | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
    rm -rf "$WORK"
  else
    echo "KEEP=1: left containers ${NAMES[*]}, database $DB, Redis keys $REDIS_KEY_PREFIX*, $WORK"
  fi
  exit $rc
}
trap cleanup EXIT

# ---- 1. prerequisites ----------------------------------------------------------------------------
step "prerequisites: podman, image $IMAGE, PostgreSQL, Redis"
for tool in podman psql redis-cli curl; do command -v "$tool" >/dev/null || fail "$tool not found"; done
podman image exists "$IMAGE" || fail "no image $IMAGE: run scripts/container-check.sh first (KEEP is not needed)"
psql -q "$PG_ADMIN_URL" -c 'select 1' >/dev/null 2>"$WORK/psql.err" || { cat "$WORK/psql.err" >&2; fail "PostgreSQL at $PG_ADMIN_URL does not answer"; }
[ "$(redis_cli ping 2>&1)" = PONG ] || fail "Redis at $REDIS_URL does not answer PING"
psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE \"$DB\"" >/dev/null || fail "cannot create database $DB"
echo "database $DB (fresh), Redis keys under $REDIS_KEY_PREFIX"

# ---- 2. start every container at once, as compose does ---------------------------------------------
step "start: $REPLICAS containers together, each migrating on start"
JWT_SECRET=$(node -e "console.log(require('crypto').randomBytes(48).toString('base64url'))")
export JWT_SECRET DATABASE_URL REDIS_URL REDIS_KEY_PREFIX
t0=$(now_ms)
for i in $(seq 1 "$REPLICAS"); do
  name="fastify-portfolio-scale-$i"
  NAMES+=("$name")
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  # Host network: the containers reach the host's PostgreSQL and Redis on loopback, each on its
  # own port. --health-interval disable: no systemd timer here (see container-check.sh).
  podman run -d --name "$name" --network host --health-interval disable \
    -e HOST=127.0.0.1 -e PORT=$(( BASE_PORT + i )) -e JWT_SECRET -e DATABASE_URL -e REDIS_URL -e REDIS_KEY_PREFIX \
    -e MIGRATE_ON_START=true -e TRUST_PROXY=127.0.0.1 "$IMAGE" >/dev/null 2>"$WORK/run.err" \
    || { cat "$WORK/run.err" >&2; fail "podman run $name failed"; }
done
for i in $(seq 1 "$REPLICAS"); do
  name=${NAMES[$(( i - 1 ))]}
  ok=0
  for _ in $(seq 1 300); do
    if curl -fsS --max-time 2 -o /dev/null "$(url "$i")/api/health" 2>/dev/null; then ok=1; break; fi
    if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]; then
      podman logs "$name" >&2 || true
      fail "$name exited before answering /api/health (logs above)"
    fi
    sleep 0.2
  done
  [ "$ok" = 1 ] || { podman logs --tail 30 "$name" >&2; fail "$name: no answer from /api/health within 60 s"; }
  echo "$name healthy $(( $(now_ms) - t0 )) ms after the first podman run: $(curl -fsS "$(url "$i")/api/health")"
done
applied=$(psql -tA "${PG_ADMIN_URL%/*}/$DB" -c 'select count(*) from _prisma_migrations where finished_at is not null and rolled_back_at is null')
expected=$(find prisma/postgresql/migrations -name migration.sql | wc -l)
[ "$applied" = "$expected" ] || fail "_prisma_migrations has $applied applied rows, expected $expected (one per migration)"
echo "_prisma_migrations: $applied applied, each once"

# ---- 3. one user, one session, every container ----------------------------------------------------
step 'sign-up on one container, sign-in on another, the cookie on all of them'
uid="scale$(date +%s)"
password='correct horse battery staple'
code=$(curl -sS -o "$WORK/user.json" -w '%{http_code}' -H 'content-type: application/json' \
  -d "{\"uid\":\"$uid\",\"name\":\"Scale Check\",\"password\":\"$password\"}" "$(url 1)/api/users")
[ "$code" = 201 ] || { cat "$WORK/user.json" >&2; fail "POST /api/users on #1 answered $code, expected 201"; }
echo "#1 POST /api/users -> 201"
signin=$(( REPLICAS >= 2 ? 2 : 1 ))
code=$(curl -sS -D "$WORK/auth.headers" -o "$WORK/auth.json" -w '%{http_code}' -H 'content-type: application/json' \
  -d "{\"uid\":\"$uid\",\"password\":\"$password\"}" "$(url "$signin")/api/authenticate")
[ "$code" = 200 ] || { cat "$WORK/auth.json" >&2; fail "POST /api/authenticate on #$signin answered $code, expected 200"; }
# Secure cookie (production): curl keeps none from http://, so it is passed by hand.
cookie=$(tr -d '\r' < "$WORK/auth.headers" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | grep -i token | head -1)
[ -n "$cookie" ] || fail "POST /api/authenticate on #$signin set no session cookie"
echo "#$signin POST /api/authenticate -> 200 + cookie"
for i in $(seq 1 "$REPLICAS"); do
  code=$(curl -sS -o "$WORK/id.json" -w '%{http_code}' -H "cookie: $cookie" "$(url "$i")/api/id")
  if [ "$code" != 200 ] || ! grep -q "\"uid\":\"$uid\"" "$WORK/id.json"; then
    cat "$WORK/id.json" >&2; fail "GET /api/id on #$i with the cookie from #$signin answered $code"
  fi
  echo "#$i GET /api/id with that cookie -> 200 ($uid)"
done

# ---- 3b. through nginx, with the compose profile's config ----------------------------------------
if command -v nginx >/dev/null; then
  step "nginx: deploy/nginx/templates/default.conf.template in front, on 127.0.0.1:$NGINX_PORT"
  mkdir -p "$NGINX_DIR/conf.d"
  upstreams=$(for i in $(seq 1 "$REPLICAS"); do printf '    server 127.0.0.1:%s max_fails=1 fail_timeout=5s;\n' $(( BASE_PORT + i )); done)
  # What the official image's entrypoint does (envsubst of its own variables), then the two
  # differences of this setup: loopback ports instead of the compose DNS name, and no `resolve`.
  # shellcheck disable=SC2016 # envsubst takes the variable's name, not its value
  NGINX_LOCAL_RESOLVERS=127.0.0.1 envsubst '$NGINX_LOCAL_RESOLVERS' < deploy/nginx/templates/default.conf.template \
    | awk -v ups="$upstreams" '/server app-replica:3000/ { print ups; next } { print }' \
    | sed "s/^\( *\)listen 80;/\1listen 127.0.0.1:$NGINX_PORT;/" > "$NGINX_DIR/conf.d/default.conf"
  printf '%s\n' "pid $NGINX_DIR/nginx.pid;" "error_log $NGINX_DIR/error.log;" 'events {}' 'http {' \
    "  log_format upstream '\$status \$upstream_addr';" "  access_log $NGINX_DIR/access.log upstream;" \
    "  client_body_temp_path $NGINX_DIR/body; proxy_temp_path $NGINX_DIR/proxy; fastcgi_temp_path $NGINX_DIR/fastcgi;" \
    "  uwsgi_temp_path $NGINX_DIR/uwsgi; scgi_temp_path $NGINX_DIR/scgi;" \
    "  include $NGINX_DIR/conf.d/*.conf;" '}' > "$NGINX_DIR/nginx.conf"
  nginx -t -q -c "$NGINX_DIR/nginx.conf" -p "$NGINX_DIR" || fail 'nginx -t rejects the rendered template'
  nginx -c "$NGINX_DIR/nginx.conf" -p "$NGINX_DIR" || fail 'nginx did not start'
  for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/nginx-health" 2>/dev/null && break; sleep 0.1; done
  # A browser-like sign-in: Origin names the address the browser used (with its port); the app
  # compares it with the Host header that nginx passes on. The client talks from 127.0.0.2 and
  # forges X-Forwarded-For: the app must record 127.0.0.2, not the forged address (nginx appending
  # instead of replacing) nor nginx's own 127.0.0.1 (the proxy not trusted).
  code=$(curl -sS --interface 127.0.0.2 -D "$WORK/nginx-auth.headers" -o "$WORK/nginx-auth.json" -w '%{http_code}' \
    -H 'content-type: application/json' -H "origin: http://127.0.0.1:$NGINX_PORT" -H 'x-forwarded-for: 203.0.113.9' \
    -d "{\"uid\":\"$uid\",\"password\":\"$password\"}" "http://127.0.0.1:$NGINX_PORT/api/authenticate")
  [ "$code" = 200 ] || { cat "$WORK/nginx-auth.json" >&2; fail "POST /api/authenticate through nginx (with Origin) answered $code"; }
  nginx_cookie=$(tr -d '\r' < "$WORK/nginx-auth.headers" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | grep -i token | head -1)
  echo "POST /api/authenticate through nginx with Origin http://127.0.0.1:$NGINX_PORT -> 200 (Host passed on with its port)"
  for _ in $(seq 1 "$(( REPLICAS * 2 ))"); do
    code=$(curl -sS -o "$WORK/sessions.json" -w '%{http_code}' -H "cookie: $nginx_cookie" "http://127.0.0.1:$NGINX_PORT/api/sessions")
    [ "$code" = 200 ] || fail "GET /api/sessions through nginx answered $code"
  done
  ip=$(node -e "const s = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).find(s => s.current); console.log(s ? s.ip : '')" "$WORK/sessions.json")
  [ "$ip" = 127.0.0.2 ] || fail "the session made through nginx records ip \"$ip\", expected the client's 127.0.0.2 (not the forged 203.0.113.9, not nginx's 127.0.0.1)"
  echo "session ip recorded by the app: $ip, the client's (not the forged X-Forwarded-For, not nginx's address)"
  echo "requests per replica through nginx: $(awk '{ print $2 }' "$NGINX_DIR/access.log" | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')"
else
  echo 'note: no nginx installed (apt-get install nginx): the nginx template was not exercised'
fi

# ---- 4. sign-out on one, refused everywhere -------------------------------------------------------
step "sign-out on #$REPLICAS, the old cookie refused by every container"
code=$(curl -sS -o "$WORK/logout.json" -w '%{http_code}' -X POST -H "cookie: $cookie" "$(url "$REPLICAS")/api/logout")
case "$code" in 200|204) ;; *) cat "$WORK/logout.json" >&2; fail "POST /api/logout on #$REPLICAS answered $code" ;; esac
t_out=$(now_ms)
echo "#$REPLICAS POST /api/logout -> $code"
# Every container is asked in each round, so each figure is that container's own delay.
declare -A refused_ms=()
while [ ${#refused_ms[@]} -lt "$REPLICAS" ]; do
  for i in $(seq 1 "$REPLICAS"); do
    [ -n "${refused_ms[$i]:-}" ] && continue
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H "cookie: $cookie" "$(url "$i")/api/id")
    ms=$(( $(now_ms) - t_out ))
    case "$code" in
      401) refused_ms[$i]=$ms ;;
      200) [ "$ms" -lt "$REVOCATION_LIMIT_MS" ] || fail "#$i still accepts the revoked cookie $ms ms after the sign-out" ;;
      *) fail "GET /api/id on #$i after the sign-out answered $code, expected 200 or 401" ;;
    esac
  done
  sleep 0.05
done
for i in $(seq 1 "$REPLICAS"); do echo "#$i refuses the old cookie (401) ${refused_ms[$i]} ms after the sign-out"; done

# ---- 5. SIGTERM ---------------------------------------------------------------------------------
step 'stop: SIGTERM to every container'
for name in "${NAMES[@]}"; do
  t0=$(now_ms)
  podman stop -t 10 "$name" >/dev/null 2>"$WORK/stop.err" || { cat "$WORK/stop.err" >&2; fail "podman stop $name failed"; }
  ms=$(( $(now_ms) - t0 ))
  rc=$(podman inspect --format '{{.State.ExitCode}}' "$name")
  echo "$name: exit code $rc after $ms ms"
  [ "$rc" = 0 ] || { podman logs --tail 20 "$name" >&2; fail "$name exited $rc on SIGTERM, expected 0"; }
done

STEP='all done'
printf '\ncontainer-scale-check: all checks passed (%s containers of %s on PostgreSQL %s, Redis)\n' "$REPLICAS" "$IMAGE" "$DB"
