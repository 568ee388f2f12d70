#!/usr/bin/env bash
# Install the command-line tools the tests use, if missing (idempotent):
#   socat  - makes the linked pty pairs for the RTU-over-serial tests
#   mbpoll - an independent Modbus master used to cross-check register addresses
#   chromium, chromium-driver - headless browser and its matching WebDriver for the
#            dashboard test (tests/dashboard); Debian's builds, never a downloaded browser
#   docker-compose - validates docker-compose.yml (`docker-compose config`, tests/deploy);
#            installed on its own without recommends, so no Docker engine comes with it
set -euo pipefail

missing=()
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v mbpoll >/dev/null 2>&1 || missing+=(mbpoll)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v docker-compose >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "installing docker-compose"
    $SUDO apt-get install -y --no-install-recommends docker-compose || {
        $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends docker-compose
    }
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing ${missing[*]}; install them with your package manager" >&2
    exit 1
fi
echo "installing ${missing[*]}"
$SUDO apt-get install -y "${missing[@]}" || {
    $SUDO apt-get update && $SUDO apt-get install -y "${missing[@]}"
}
