#!/usr/bin/env bash
# Installs the Debian packages seqnet's build, tests, examples and benchmarks need.
# Usage: cmake/install-deps.sh [--bench] [--fuzz]
# Runs apt-get directly as root, through sudo otherwise. Packages already installed are skipped.
set -euo pipefail

packages=(g++ cmake make libeigen3-dev catch2 libcli11-dev ca-certificates tar gzip)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3 python3-torch python3-numpy libopenblas0-openmp) ;;
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --bench or --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
echo "Installing: ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
