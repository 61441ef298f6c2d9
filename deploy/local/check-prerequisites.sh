#!/usr/bin/env bash
# What `make demo` and `make test` check before installing anything: Java 17+ and Maven for the local Kafka broker
# (not needed with DESKPULSE_KAFKA_BOOTSTRAP set). When one is missing on a Debian or Ubuntu machine, it offers to
# run deploy/local/install-prerequisites.sh (as root, or through sudo) when someone is at the terminal to say yes;
# otherwise it prints that one command and exits 1. DESKPULSE_PROMPT=1 asks even without a terminal (the tests).
set -euo pipefail
[ -n "${DESKPULSE_KAFKA_BOOTSTRAP:-}" ] && exit 0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
missing() { for tool in java mvn; do command -v "$tool" >/dev/null 2>&1 || echo "$tool"; done; }
absent="$(missing | tr '\n' ' ' | sed 's/ $//')"
[ -z "$absent" ] && exit 0
if [ "$(id -u)" = 0 ]; then run=(bash "$here/install-prerequisites.sh")
else run=(sudo bash "$here/install-prerequisites.sh"); fi
echo "deskpulse's local Kafka needs Java 17+ and Maven; not on PATH: $absent" >&2
interactive=""
if [ -t 0 ] || [ "${DESKPULSE_PROMPT:-}" = 1 ]; then interactive=1; fi
if [ -n "$interactive" ] && [ -z "${CI:-}" ] && command -v apt-get >/dev/null 2>&1 \
   && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then
  read -r -p "Install them now with: ${run[*]} ? [y/N] " answer || answer=""
  case "$answer" in
    y|Y|yes|Yes)
      "${run[@]}"
      absent="$(missing | tr '\n' ' ' | sed 's/ $//')"
      [ -z "$absent" ] && exit 0
      echo "still not on PATH after the install: $absent" >&2
      exit 1 ;;
  esac
fi
echo "run: sudo bash deploy/local/install-prerequisites.sh (Debian or Ubuntu), or set DESKPULSE_KAFKA_BOOTSTRAP" \
     "to use a Kafka you have" >&2
exit 1
