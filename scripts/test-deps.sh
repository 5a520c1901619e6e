#!/usr/bin/env bash
# Installs the system packages the tests need when they are missing (Debian/Ubuntu).
set -euo pipefail

need=()
[ -x /usr/lib/chromium/chromium ] || need+=(chromium)
command -v ip >/dev/null || need+=(iproute2)
command -v unshare >/dev/null || need+=(util-linux)
command -v prometheus >/dev/null || need+=(prometheus)
command -v tmux >/dev/null || need+=(tmux)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/sbin/rabbitmq-server ] || need+=(rabbitmq-server)
# iptables: the network faults of the e2e tests (e2e/netfault_test.go).
command -v iptables >/dev/null || [ -x /usr/sbin/iptables ] || need+=(iptables)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# node and npm: the JavaScript client's build, type-check and unit tests (make sdk-check).
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "missing packages: ${need[*]} (run as root or install sudo)" >&2; exit 1; }
  sudo=sudo
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
