#!/usr/bin/env bash
# One set-up for a new user and for CI: the Debian packages in scripts/debian-packages.txt
# that are missing (as root, or through sudo), then npm ci and the build. Run it from
# anywhere inside the checkout; `npm run setup` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=$(sed -e 's/#.*//' scripts/debian-packages.txt | awk 'NF {print $1}')
missing=()
for package in $packages; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "${QM_SETUP_NO_APT:-}" = 1 ]; then
    echo "setup: QM_SETUP_NO_APT=1: not installing the missing Debian packages ${missing[*]}; the tests that need them fail unless QM_TEST_SKIP_MISSING=1" >&2
  elif ! command -v apt-get >/dev/null; then
    echo "setup: error: these Debian packages are missing and there is no apt-get here: ${missing[*]}" >&2
    echo "setup: hint:  install their equivalents by hand, then run QM_SETUP_NO_APT=1 npm run setup" >&2
    exit 1
  else
    sudo=()
    if [ "$(id -u)" != 0 ]; then
      if ! command -v sudo >/dev/null; then
        echo "setup: error: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
        echo "setup: hint:  run as root, or: apt-get install ${missing[*]}" >&2
        exit 1
      fi
      sudo=(sudo)
    fi
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: Debian packages present: $(echo $packages)"
fi

npm ci --no-audit --no-fund
npm run build
