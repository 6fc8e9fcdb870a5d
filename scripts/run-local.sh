#!/usr/bin/env bash
# `make run`: brings userhub up on this machine — services, database, release build, a `demo`
# domain with a fresh API key — and runs `userhub-server all` in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."

export USERHUB__DATABASE__URL="${USERHUB__DATABASE__URL:-postgres://postgres@127.0.0.1:5432/userhub}"
export USERHUB__HTTP__ADDR="${USERHUB__HTTP__ADDR:-127.0.0.1:8080}"
# Local demo mode: tools that cannot send the key (e.g. the original Postman collection run with
# newman) may call domain `demo` without one. Only allowed on a loopback address; set it empty to
# require keys.
export USERHUB__HTTP__UNAUTHENTICATED_DOMAIN="${USERHUB__HTTP__UNAUTHENTICATED_DOMAIN-demo}"
# Local webhook receivers (http://127.0.0.1:...) are allowed here; never in production.
export USERHUB__WEBHOOKS__ALLOW_PRIVATE_TARGETS="${USERHUB__WEBHOOKS__ALLOW_PRIVATE_TARGETS:-true}"
# The operator dashboard's token: a fresh random one per run unless you set your own.
export USERHUB__OPS__OPERATOR_TOKEN="${USERHUB__OPS__OPERATOR_TOKEN:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
# /metrics needs a token on the API port: a fresh random one per run unless you set your own.
export USERHUB__HTTP__METRICS_TOKEN="${USERHUB__HTTP__METRICS_TOKEN:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
# The key that seals webhook secrets at rest: made once and kept in .local/ (git-ignored), so
# that endpoints registered in one run still sign in the next.
if [ -z "${USERHUB__WEBHOOKS__SECRET_KEY:-}" ]; then
  mkdir -p .local
  [ -s .local/webhook-secret-key ] || head -c 32 /dev/urandom | base64 > .local/webhook-secret-key
  export USERHUB__WEBHOOKS__SECRET_KEY="$(cat .local/webhook-secret-key)"
fi

bash scripts/services.sh

echo "[run] building userhub (release)" >&2
cargo build --release --locked -p userhub-server
server="$(bash scripts/target-dir.sh)/release/userhub-server"

"$server" migrate --create-database
"$server" admin domain create demo
key=$("$server" admin key create demo)
base="http://${USERHUB__HTTP__ADDR}"

cat <<MSG

  userhub is starting on $base  (domain: demo)

  API key (shown once):  $key

  Try it:
    curl -s -X POST $base/v2/demo/identity/bulk_actions \\
      -H "Authorization: Bearer $key" \\
      --data-urlencode action=create_core_profiles \\
      --data-urlencode 'payload=[{"identities":[{"uid":"uid-1"}],"last_country":"India","last_city":"Pune"}]'

    curl -s $base/v2/demo/identity/bulk_actions/<task_id> -H "Authorization: Bearer $key"
    curl -s $base/v2/demo/identity/bulk_actions/<task_id>/results -H "Authorization: Bearer $key" -o results.zip && unzip -p results.zip

  Operator dashboard:  $base/ops/#token=$USERHUB__OPS__OPERATOR_TOKEN
  OpenAPI document:    $base/openapi.json
  Prometheus metrics:  curl -s $base/metrics -H "Authorization: Bearer $USERHUB__HTTP__METRICS_TOKEN"

  Local demo mode: requests to domain demo without an Authorization header are accepted
  (USERHUB__HTTP__UNAUTHENTICATED_DOMAIN=demo, loopback only); a key that is sent is checked.
  Stop with Ctrl-C.

MSG
exec "$server" all
