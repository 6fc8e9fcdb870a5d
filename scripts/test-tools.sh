#!/usr/bin/env bash
# Installs what the test suite drives besides cargo, once: schemathesis, check-jsonschema and
# kubernetes-validate (Python, into .tools/venv), playwright-core (npm, into tests/browser) and
# Debian's chromium for the dashboard test. Re-running it is quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

requirements=tests/tools/requirements.txt
stamp=.tools/venv/.installed
if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
    echo "installing Python test tools into .tools/venv"
    python3 -m venv .tools/venv
    .tools/venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "installing playwright-core into tests/browser"
    (cd tests/browser && npm ci --silent --no-audit --no-fund)
fi

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian's chromium"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi
