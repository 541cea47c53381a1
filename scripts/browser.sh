#!/usr/bin/env bash
# Headless Chromium for the browser specs: Debian's package, installed when missing.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  command -v apt-get >/dev/null || { echo "browser: chromium missing and no apt-get to install it" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  echo "browser: installed chromium"
fi
