#!/usr/bin/env bash
# Drops databases left behind by interrupted test runs (tests drop their own when they finish).
set -euo pipefail
url="${USERHUB_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
command -v psql >/dev/null 2>&1 || exit 0
psql "$url/postgres" -qtAc "SELECT datname FROM pg_database WHERE datname LIKE 'uh\_test\_%'" 2>/dev/null |
  while read -r name; do
    [ -n "$name" ] && psql "$url/postgres" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
