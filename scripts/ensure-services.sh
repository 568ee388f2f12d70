#!/usr/bin/env bash
# Start the local PostgreSQL and Mosquitto that the integration tests use, if they are not running.
# On CI (CI=true) a service that cannot be started fails the run: nothing is skipped silently.
set -uo pipefail

wait_for_port() {  # host port seconds
    local deadline=$((SECONDS + $3))
    while (( SECONDS < deadline )); do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

status=0
if ! wait_for_port 127.0.0.1 5432 0; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        echo "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    wait_for_port 127.0.0.1 5432 30 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; status=1; }
fi
if ! wait_for_port 127.0.0.1 1883 0; then
    if command -v mosquitto >/dev/null; then
        echo "starting Mosquitto"
        mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
    fi
    wait_for_port 127.0.0.1 1883 15 || { echo "Mosquitto is not reachable on 127.0.0.1:1883" >&2; status=1; }
fi
if [ "$status" -ne 0 ] && [ "${CI:-}" != "true" ]; then
    echo "warning: some services are missing; the tests that need them will fail" >&2
    status=0
fi
exit "$status"
