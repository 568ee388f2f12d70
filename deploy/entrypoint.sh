#!/bin/sh
# Container entry point: bring the database schema to head, then run the command.
#
# `prepaid-gateway run` refuses to start on an old schema, so for `run` and `api serve` the
# schema is upgraded first (an idempotent no-op at head). The database is
# $PREPAID_GATEWAY_DATABASE_URL, else database.url of $PREPAID_GATEWAY_CONFIG (default
# /etc/prepaid-gateway/gateway.yaml, with its PREPAID_GATEWAY_* overrides).
# PREPAID_GATEWAY_MIGRATE=0 skips the step (docker-compose.yml migrates in its own service).
set -eu

config="${PREPAID_GATEWAY_CONFIG:-/etc/prepaid-gateway/gateway.yaml}"

wants_schema() {
    [ "${1:-}" = "prepaid-gateway" ] || return 1
    case "${2:-}" in run | api) return 0 ;; *) return 1 ;; esac
}

if [ "${PREPAID_GATEWAY_MIGRATE:-1}" = "1" ] && wants_schema "$@"; then
    url="${PREPAID_GATEWAY_DATABASE_URL:-}"
    if [ -z "$url" ]; then
        url="$(python -c 'import sys
from pathlib import Path
from gateway.runtime.config import ConfigError, load_config
try:
    print(load_config(Path(sys.argv[1])).database.url)
except ConfigError as exc:
    sys.exit(f"config error: {exc}")' "$config")"
    fi
    prepaid-gateway db upgrade --database-url "$url"
fi
exec "$@"
