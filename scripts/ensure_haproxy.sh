#!/usr/bin/env bash
# Install Debian's HAProxy for the multi-worker tests and benchmark when it is missing.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq haproxy >/dev/null
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]
