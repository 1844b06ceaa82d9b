#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: the browser for the console's end-to-end
# tests, ffmpeg for the simulated cameras' live video, Redis and PostgreSQL servers for the fault
# drills (tests/drills). Installed only when missing, so a warm machine pays nothing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
# The fault drills (tests/drills) start and restart their own Redis and PostgreSQL cluster.
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[rtcc] installing Debian packages: ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
