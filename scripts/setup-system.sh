#!/usr/bin/env bash
# Debian packages codeja needs: bubblewrap for the sandbox and the toolchains the sandbox runs
# model-written programs with. Installed only when run as root with apt-get available; otherwise we
# say what is missing and go on (the sandbox then reports `toolchain-missing`, never a model failure).
set -uo pipefail
PKGS=(bubblewrap)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || echo "warning: apt-get could not install: ${missing[*]}" >&2
else
  echo "note: not root; please install these Debian packages: ${missing[*]}" >&2
fi
exit 0
