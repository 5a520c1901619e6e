# Sourced by the measurement scripts (relayroom.sh, movegap.sh, draintime.sh):
# puts 127.0.0.11-13 on lo (run them in scripts/in-netns.sh), starts
# scripts/cluster.sh with $bin in the background with its state in a fresh
# $dir, stops it when the script exits, and returns once it is up. Export
# what the cluster's processes should see (keys, capacity) before sourcing.
for i in 1 2 3; do ip addr add "127.0.0.1$i/32" dev lo 2>/dev/null || true; done
dir=$(mktemp -d)
CLUSTER_DIR=$dir BIN=$bin scripts/cluster.sh >"$dir/cluster.out" 2>&1 &
cl=$!
trap 'kill -TERM $cl 2>/dev/null; wait $cl 2>/dev/null || true' EXIT
for _ in $(seq 200); do grep -q "cluster up" "$dir/cluster.out" 2>/dev/null && break; sleep 0.2; done
