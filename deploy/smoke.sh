#!/usr/bin/env bash
# The deployment, for real: builds the container image (the Dockerfile's `prebuilt` target, from
# target/release/asnd), runs two replicas from it on this machine's PostgreSQL (a new database)
# behind a real HAProxy with deploy/haproxy.cfg (TCP, send-proxy-v2, checks on /readyz,
# redispatch), all with host networking on loopback, then:
#   1. load through the balancer: every notification stored once, with the client address that
#      the PROXY header carries;
#   2. rolling restart under load (SIGTERM each replica in turn, start it again): every request 200;
#   3. kill -9 of one replica's container under load: every notification answered 200 is stored,
#      and the ones that were in flight on it succeed when sent again (as Apple does).
# Prints its figures, one per line, as `figure: NAME VALUE`; exits non-zero when any check fails.
# Needs root (dockerd, apt-get); run by .ci/run after the release build.
#
#   deploy/smoke.sh                    # uses target/release/asnd
#   ASND_BIN=path/to/asnd deploy/smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

bin="${ASND_BIN:-target/release/asnd}"
admin_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
image="asnd:smoke"
# The replicas: one loopback address each, with the ports the image and compose use.
replicas=(127.0.0.11 127.0.0.12)
# The balancer listens on IPv6 loopback and reaches the replicas over IPv4: the client address
# (::1) can only reach the database through the PROXY header, never as the TCP peer (127.0.0.1).
balancer="[::1]:8443"
stats="127.0.0.1:8404"
load_concurrency=8

log() { echo "smoke: $*" >&2; }
fail() {
  log "FAILED: $*"
  exit 1
}
figure() { echo "figure: $1 $2"; }

[ -x "$bin" ] || fail "$bin not found: cargo build --release --locked first"

# ---------------------------------------------------------------------------------------------
# What it needs, from Debian's packages when missing.
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v debuerreotype-slimify >/dev/null || missing+=(debuerreotype)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
command -v readelf >/dev/null || missing+=(binutils)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's client: it has BuildKit built in (a newer client without buildx has not).
docker=docker
[ -x /usr/bin/docker ] && docker=/usr/bin/docker

work="$(mktemp -d)"
started_dockerd=""
haproxy_pid=""
load_pid=""
db=""
containers=()
cleanup() {
  local code=$?
  set +e
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null && wait "$load_pid" 2>/dev/null
  for c in "${containers[@]}"; do
    "$docker" logs "$c" >"$work/$c.log" 2>&1
    "$docker" rm -f "$c" >/dev/null 2>&1
  done
  [ -n "$haproxy_pid" ] && kill "$haproxy_pid" 2>/dev/null && wait "$haproxy_pid" 2>/dev/null
  # The image goes too (the base image stays: the next run starts from it).
  "$docker" rmi -f "$image" >/dev/null 2>&1
  if [ "$code" -ne 0 ]; then
    for f in "$work"/*.log; do
      [ -f "$f" ] && { echo "--- $(basename "$f") (last lines)"; tail -n 15 "$f"; } >&2
    done
  fi
  [ -n "$db" ] && psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null
    wait "$started_dockerd" 2>/dev/null
  fi
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to $1 seconds for the command after it to succeed.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

if ! "$docker" info >/dev/null 2>&1; then
  log "starting dockerd"
  dockerd >"$work/dockerd.log" 2>&1 &
  started_dockerd=$!
  wait_until 60 "$docker" info || fail "dockerd did not start"
fi

# ---------------------------------------------------------------------------------------------
# The image: the Dockerfile's runtime stage around the stripped release binary, on a Debian slim
# base made here (no registry can be reached).
base="$(deploy/base-image.sh)"
mkdir -p "$work/context/target/release"
strip -o "$work/context/target/release/asnd" "$bin"
log "building $image from $base"
DOCKER_BUILDKIT=1 "$docker" build -q -f Dockerfile --target prebuilt \
  --build-arg BASE_IMAGE="$base" -t "$image" "$work/context" >"$work/build.log" 2>&1 ||
  fail "docker build: $(tail -n 20 "$work/build.log")"
size_bytes="$("$docker" image inspect -f '{{.Size}}' "$image")"
size_mb="$(awk -v b="$size_bytes" 'BEGIN { printf "%.1f", b / 1000000 }')"
# The binary in the image: stripped (no symbol table, no debug sections), run as the non-root user.
probe="$("$docker" create "$image")"
"$docker" cp "$probe:/usr/local/bin/asnd" "$work/asnd-in-image" >/dev/null
"$docker" rm "$probe" >/dev/null
if readelf -SW "$work/asnd-in-image" | grep -Eq '\.(symtab|debug_info|debug_line|debug_str) '; then
  fail "the binary in the image is not stripped"
fi
[ "$("$docker" run --rm --entrypoint id "$image" -u):$("$docker" run --rm --entrypoint id "$image" -g)" = "10001:10001" ] ||
  fail "the image does not run as user and group 10001"
# The compose file as Debian's docker-compose reads it.
POSTGRES_PASSWORD=smoke docker-compose -f deploy/docker-compose.yml config -q ||
  fail "docker-compose rejects deploy/docker-compose.yml"

# ---------------------------------------------------------------------------------------------
# What the replicas mount: a TLS certificate and a key that only the image's user (10001) can
# read, and the development CA root that the notifications are signed with.
mkdir -p "$work/certs" "$work/ca-root"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:::1,IP:127.0.0.1" \
  -addext basicConstraints=critical,CA:FALSE \
  -keyout "$work/certs/tls.key" -out "$work/certs/tls.pem" 2>/dev/null
chown 10001:10001 "$work/certs/tls.key"
chmod 0400 "$work/certs/tls.key"
"$bin" dev-ca --out "$work/ca" >/dev/null
cp "$work/ca/root.pem" "$work/ca-root/root.pem"

db="asnd_smoke_$$_$(date +%s)"
psql "$admin_url" -qc "CREATE DATABASE $db" >/dev/null ||
  fail "cannot create a database on $admin_url (is PostgreSQL running? set DATABASE_URL)"
db_url="${admin_url%/*}/$db"
sql() { psql "$db_url" -Atqc "$1"; }

run_replica() {
  local n=$1 ip=${replicas[$(($1 - 1))]}
  "$docker" run -d --name "asnd-smoke-$n" --network host --stop-timeout 30 \
    -v "$root/config/behind-l4-proxy.toml:/etc/asnd/asnd.toml:ro" \
    -v "$work/certs:/etc/asnd/certs:ro" \
    -v "$work/ca-root:/etc/asnd/ca:ro" \
    -e ASND_SERVER__LISTEN="$ip:8443" \
    -e ASND_ADMIN__LISTEN="$ip:9898" \
    -e ASND_DATABASE__URL="$db_url" \
    -e ASND_SOURCES__TRUSTED_PROXIES=127.0.0.1/32 \
    -e ASND_SOURCES__ALLOW=::1/128 \
    -e ASND_SERVER__DRAIN_DELAY=6s \
    -e ASND_VERIFY__ROOTS=builtin:apple-root-ca-g3,/etc/asnd/ca/root.pem \
    "$image" >/dev/null
}
containers=(asnd-smoke-1 asnd-smoke-2)
# Left over from a run that could not clean up (killed itself).
"$docker" rm -f "${containers[@]}" >/dev/null 2>&1 || true
run_replica 1
run_replica 2

# HAProxy: deploy/haproxy.cfg as it is, with the addresses of this host, plus a stats page from
# which this script reads the servers' states.
cat >"$work/stats.cfg" <<EOF
frontend stats
    mode http
    bind $stats
    stats enable
    stats uri /stats
EOF
ASND_BALANCER_LISTEN="$balancer" ASND_1="${replicas[0]}" ASND_2="${replicas[1]}" \
  haproxy -db -f deploy/haproxy.cfg -f "$work/stats.cfg" >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!

# HAProxy's state (UP, DOWN, ...) of server asnd<n>.
server_state() { curl -fsS "http://$stats/stats;csv" | awk -F, -v s="asnd$1" '$1 == "asnd" && $2 == s { print $18 }'; }
is_up() { [ "$(server_state "$1")" = UP ]; }
ready() { curl -fsS "http://${replicas[$(($1 - 1))]}:9898/readyz"; }
for n in 1 2; do
  wait_until 60 ready "$n" || fail "replica $n not ready"
  wait_until 30 is_up "$n" || fail "HAProxy does not see replica $n up"
  # The image's own health check, which follows ASND_ADMIN__LISTEN.
  "$docker" exec "asnd-smoke-$n" asnd healthcheck >/dev/null || fail "asnd healthcheck in replica $n"
done

url="https://$balancer/notifications"
simulate() {
  "$bin" simulate --url "$url" --cacert "$work/certs/tls.pem" --ca "$work/ca" "$@"
}
# The count of a status in simulate's report (`status 200: N`), 0 when absent.
status_count() { awk -v s="status $2:" '$1 " " $2 == s { n += $3 } END { print n + 0 }' "$1"; }
# Requests in simulate's report: every `status ...: N` line.
request_count() { awk '$1 == "status" { n += $NF } END { print n + 0 }' "$1"; }

# ---------------------------------------------------------------------------------------------
# 1. Through the balancer: each notification stored once, from the PROXY header's client.
log "1. load through HAProxy"
n1=2000
simulate --count "$n1" --concurrency 16 >"$work/load.txt" 2>"$work/load.err" ||
  fail "load: $(cat "$work/load.txt" "$work/load.err")"
[ "$(status_count "$work/load.txt" 200)" -eq "$n1" ] || fail "load: $(cat "$work/load.txt")"
throughput="$(awk '$1 == "throughput:" { print $2 }' "$work/load.txt")"
[ "$(sql "SELECT count(*) FROM notifications")" -eq "$n1" ] || fail "not $n1 rows after the load"
from_header="$(sql "SELECT count(*) FROM notifications WHERE source_address = '::1'")"
[ "$from_header" -eq "$n1" ] ||
  fail "$from_header of $n1 rows have the PROXY header's client (::1): $(sql "SELECT DISTINCT source_address FROM notifications")"

# Docker's own HEALTHCHECK (the image's `asnd healthcheck`) says healthy.
healthy() { [ "$("$docker" inspect -f '{{.State.Health.Status}}' "asnd-smoke-$1")" = healthy ]; }
for n in 1 2; do
  wait_until 60 healthy "$n" || fail "Docker's health check does not find replica $n healthy"
done

# ---------------------------------------------------------------------------------------------
# 2. Rolling restart under load: batches of simulate run until both replicas were restarted.
log "2. rolling restart under load"
mkdir -p "$work/rolling"
(
  i=0
  while [ ! -e "$work/rolling/stop" ]; do
    i=$((i + 1))
    simulate --count 300 --concurrency "$load_concurrency" >"$work/rolling/$i.txt" 2>>"$work/rolling/err" || true
  done
) &
load_pid=$!
wait_until 30 test -s "$work/rolling/1.txt" || fail "no load before the rolling restart"
for n in 1 2; do
  # SIGTERM: /readyz turns 503, HAProxy takes it out, it drains and exits.
  "$docker" stop "asnd-smoke-$n" >/dev/null
  # The drain delay outlasts HAProxy's checks: it was out before the replica stopped accepting.
  case "$(server_state "$n")" in
  DOWN*) ;;
  *) fail "replica $n stopped while HAProxy still had it $(server_state "$n")" ;;
  esac
  "$docker" start "asnd-smoke-$n" >/dev/null
  wait_until 60 ready "$n" || fail "replica $n not ready after its restart"
  wait_until 30 is_up "$n" || fail "HAProxy does not see replica $n up after its restart"
done
touch "$work/rolling/stop"
wait "$load_pid"
load_pid=""
rolling_sent="$(cat "$work/rolling/"*.txt | request_count /dev/stdin)"
rolling_ok="$(cat "$work/rolling/"*.txt | status_count /dev/stdin 200)"
rolling_failed=$((rolling_sent - rolling_ok))
log "rolling restart: $rolling_ok of $rolling_sent requests answered 200"
[ "$rolling_sent" -gt 0 ] || fail "no request during the rolling restart"
stored="$(sql "SELECT count(*) FROM notifications")"
[ "$stored" -eq $((n1 + rolling_ok)) ] ||
  fail "$stored rows after the rolling restart, $((n1 + rolling_ok)) acknowledged"

# ---------------------------------------------------------------------------------------------
# 3. kill -9 of replica 2 under load. Each notification is a file, posted by its own curl, so
# that which ones were acknowledged (200) is known one by one.
log "3. kill -9 of a replica under load"
n3=1500
"$bin" simulate --out "$work/crash" --count "$n3" --ca "$work/ca" >/dev/null
post_each() {
  xargs -P "$load_concurrency" -I{} curl -s -o /dev/null -w '%{http_code} {}\n' --max-time 30 \
    --cacert "$work/certs/tls.pem" -H 'Content-Type: application/json' \
    --data-binary @{} "$url"
}
ls "$work/crash"/*.json | post_each >"$work/crash.status" &
load_pid=$!
lines_at_least() { [ "$(wc -l <"$1")" -ge "$2" ]; }
wait_until 60 lines_at_least "$work/crash.status" $((n3 / 3)) || fail "the crash load did not start"
"$docker" kill -s KILL asnd-smoke-2 >/dev/null
# curl fails for the requests in flight on the killed replica: counted below, one by one.
wait "$load_pid" || true
load_pid=""
# The notificationUUID inside each signed body (the JWS payload, base64url).
uuid_of() {
  sed -E 's/.*"signedPayload":"([^"]*)".*/\1/' "$1" | cut -d. -f2 | tr '_-' '/+' |
    awk '{ while (length($0) % 4) $0 = $0 "="; print }' | base64 -d |
    grep -o '"notificationUUID":"[^"]*"' | cut -d'"' -f4
}
awk '$1 == 200 { print $2 }' "$work/crash.status" | while read -r f; do uuid_of "$f"; done >"$work/acked"
acked="$(wc -l <"$work/acked")"
unanswered=$((n3 - acked))
sql "CREATE TABLE smoke_acked (uuid TEXT PRIMARY KEY)"
psql "$db_url" -qc "\\copy smoke_acked FROM '$work/acked'"
lost="$(sql "SELECT count(*) FROM smoke_acked a WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.notification_uuid = a.uuid)")"
# Only what was in flight on the killed replica may fail; sent again, it succeeds on the other.
[ "$unanswered" -le "$load_concurrency" ] || fail "$unanswered requests failed after kill -9 (more than were in flight)"
awk '$1 != 200 { print $2 }' "$work/crash.status" | post_each >"$work/retry.status" || true
retried_ok="$(awk '$1 == 200' "$work/retry.status" | wc -l)"
[ "$retried_ok" -eq "$unanswered" ] || fail "$retried_ok of $unanswered sent again succeeded: $(cat "$work/retry.status")"
"$docker" start asnd-smoke-2 >/dev/null
wait_until 60 ready 2 || fail "replica 2 not ready after kill -9"
stored_crash="$(sql "SELECT count(*) FROM notifications")"
[ "$stored_crash" -eq $((n1 + rolling_ok + n3)) ] ||
  fail "$stored_crash rows, expected $((n1 + rolling_ok + n3)) once every notification succeeded"

figure image_size_mb "$size_mb"
figure throughput_through_balancer_per_s "$throughput"
figure rolling_restart_requests "$rolling_sent"
figure rolling_restart_failed_requests "$rolling_failed"
figure crash_acknowledged "$acked"
figure crash_unanswered_then_retried "$unanswered"
figure lost_acknowledged_notifications "$lost"
[ "$rolling_failed" -eq 0 ] || fail "$rolling_failed of $rolling_sent requests failed during the rolling restart"
[ "$lost" -eq 0 ] || fail "$lost acknowledged notifications are not in the database"
[ "$(awk -v s="$size_mb" 'BEGIN { print (s <= 100) }')" -eq 1 ] || fail "image is $size_mb MB, over 100 MB"
log "all checks passed"
