#!/usr/bin/env bash
# Installs what `make test` needs beyond Python and the project's own packages, when it is missing:
# Java 17+ and Maven for the local Kafka broker. Uses Debian packages (apt-get) and needs root; on a
# machine that has them already it does nothing.
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn  >/dev/null 2>&1 || missing+=(maven)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "deskpulse needs: ${missing[*]} (install them, or set DESKPULSE_KAFKA_BOOTSTRAP to an existing Kafka)" >&2
  exit 1
fi
echo "installing ${missing[*]}…"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
