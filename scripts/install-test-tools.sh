#!/usr/bin/env bash
# Install the command-line tools the Modbus tests use, if missing (idempotent):
#   socat  - makes the linked pty pairs for the RTU-over-serial tests
#   mbpoll - an independent Modbus master used to cross-check register addresses
set -euo pipefail

missing=()
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v mbpoll >/dev/null 2>&1 || missing+=(mbpoll)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing ${missing[*]}; install them with your package manager" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing ${missing[*]}"
$SUDO apt-get install -y "${missing[@]}" || {
    $SUDO apt-get update && $SUDO apt-get install -y "${missing[@]}"
}
