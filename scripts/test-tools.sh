#!/usr/bin/env bash
# Installs what the test suite drives besides cargo, once: schemathesis, check-jsonschema, tuspy and
# kubernetes-validate (Python, into .tools/venv), playwright-core, yaml and the kubernetes-models
# schemas (npm, into tests/js) and Debian's chromium for the dashboard test. Re-running it is
# quick when everything is there.
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

if [ ! -f tests/js/node_modules/.package-lock.json ] \
    || ! cmp -s tests/js/package-lock.json tests/js/node_modules/.installed-lock.json; then
    echo "installing the Node test tools into tests/js"
    (cd tests/js && npm ci --silent --no-audit --no-fund \
        && cp package-lock.json node_modules/.installed-lock.json)
fi

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian's chromium"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi
