#!/usr/bin/env bash
# Debian packages the test suite needs beyond the machine image: headless Chromium and its WebDriver
# (the service's browser test), shellcheck (the deploy scripts' lint) and wrk (the serving benchmark).
# Idempotent: installs only what is missing. Needs root (CI and dev machines are).
set -euo pipefail

declare -A wanted=([chromium]=chromium [chromedriver]=chromium-driver [shellcheck]=shellcheck [wrk]=wrk)
missing=()
for command in "${!wanted[@]}"; do
    command -v "$command" >/dev/null 2>&1 || missing+=("${wanted[$command]}")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages present: $(chromium --version 2>/dev/null), $(shellcheck --version | sed -n 2p)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
echo "installed: ${missing[*]}"
