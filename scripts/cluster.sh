#!/usr/bin/env bash
# `make cluster`: RabbitMQ, a `voicectl api` and three `voicectl serve` on 127.0.0.11,
# 127.0.0.12 and 127.0.0.13 (each its own HTTP and UDP ports and data dir), on this
# machine. Ctrl-C stops all of it. State lives in ${CLUSTER_DIR:-/tmp/voicectl-cluster}.
set -euo pipefail
bin=${BIN:-bin/voicectl}
dir=${CLUSTER_DIR:-/tmp/voicectl-cluster}
mkdir -p "$dir"
rmq=/usr/lib/rabbitmq/bin
[ -x "$rmq/rabbitmq-server" ] || { echo "RabbitMQ is missing: apt-get install rabbitmq-server (make test-deps does)"; exit 1; }
port=${AMQP_PORT:-25672}
echo '[].' > "$dir/enabled_plugins"
export HOME="$dir" RABBITMQ_NODENAME=voicectl-cluster@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
  RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$((port + 20000)) RABBITMQ_MNESIA_BASE="$dir/mnesia" \
  RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_PID_FILE="$dir/rabbit.pid"
ctl() { "$rmq/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"; }
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping…"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  ctl stop >/dev/null 2>&1 || true
  exit 0
}
trap cleanup INT TERM EXIT
"$rmq/rabbitmq-server" -detached
for _ in $(seq 120); do ctl -q status >/dev/null 2>&1 && break; sleep 0.5; done
ctl await_startup --timeout 60 >/dev/null
amqp="amqp://guest:guest@127.0.0.1:$port/"
export VOICECTL_AUTH_SECRET=${VOICECTL_AUTH_SECRET:-cluster-dev-secret-0123456789abcdef}
export VOICECTL_AUTH_API_KEY=${VOICECTL_AUTH_API_KEY:-cluster-dev-api-key-0123456789}
export VOICECTL_AUTH_ADMIN_KEY=${VOICECTL_AUTH_ADMIN_KEY:-cluster-dev-admin-key-0123456789}
# Load runs against the cluster come from this machine's one address.
export VOICECTL_SIGNAL_MAX_CONNECTIONS_PER_ADDRESS=${VOICECTL_SIGNAL_MAX_CONNECTIONS_PER_ADDRESS:-0}
# supervise runs a server like systemd's Restart=always: one that drained and
# exited (voicectl servers drain / restart --rolling) starts again. Stopping
# the cluster sends it two SIGTERMs: a drain, then exit at once.
supervise() {
  local child=
  trap '[ -n "$child" ] && { kill -TERM "$child" 2>/dev/null; sleep 0.2; kill -TERM "$child" 2>/dev/null; wait "$child"; }; exit 0' TERM
  while :; do
    "$@" &
    child=$!
    wait "$child" || true
    sleep 0.2
  done
}
"$bin" api --http-addr 127.0.0.1:7870 --amqp-url "$amqp" --data-dir "$dir/api" --log-level info >"$dir/api.log" 2>&1 &
pids+=($!)
for i in 1 2 3; do
  ip=127.0.0.1$i
  own=()
  # With the address on lo (ip addr add 127.0.0.1$i/32 dev lo), each server's media
  # and pipes use it, like hosts of their own; else all share 127.0.0.1.
  if ip -4 addr show dev lo 2>/dev/null | grep -q "inet $ip/"; then
    own=(env "VOICECTL_RTC_IPS=$ip" "VOICECTL_CLUSTER_PIPE_IP=$ip")
  fi
  supervise "${own[@]}" "$bin" serve --http-addr "$ip:7880" --rtc-port $((50000 + 100 * i)) --workers "${WORKERS:-1}" --amqp-url "$amqp" \
    --data-dir "$dir/serve-$i" --log-level info >"$dir/serve-$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 100); do
  n=$(curl -sf -H "Authorization: Bearer $VOICECTL_AUTH_API_KEY" http://127.0.0.1:7870/v1/servers | grep -o '"server":' | wc -l || true)
  [ "${n:-0}" -ge 3 ] && break
  sleep 0.2
done
cat <<MSG
voicectl cluster up: RabbitMQ $amqp, API http://127.0.0.1:7870, servers http://127.0.0.1{1,2,3}:7880
logs in $dir/*.log. Try:
  curl -H 'Authorization: Bearer $VOICECTL_AUTH_API_KEY' -d '{"room":"demo"}' http://127.0.0.1:7870/v1/rooms
  curl -H 'Authorization: Bearer $VOICECTL_AUTH_API_KEY' -d '{"identity":"alice"}' http://127.0.0.1:7870/v1/rooms/demo/join
  VOICECTL_ADMIN_URL=http://127.0.0.1:7870 voicectl servers --api-key \$VOICECTL_AUTH_API_KEY
  voicectl servers restart --rolling --api http://127.0.0.1:7870 --api-key \$VOICECTL_AUTH_API_KEY
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
echo "a process of the cluster exited; see $dir/*.log"
