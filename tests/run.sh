#!/usr/bin/env bash
# Installs the dependencies, builds seqnet's tests (warnings are errors) and runs them with ctest.
# Usage: tests/run.sh [extra cmake arguments]   (build folder: $SEQNET_BUILD_DIR, default build/)
# When the IMDB data is present (SEQNET_IMDB_DIR, or data/aclImdb after examples/prepare_imdb.sh), the
# integration test on the real data runs too; otherwise it reports itself skipped.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SEQNET_BUILD_DIR:-$root/build}"
"$root/cmake/install-deps.sh"
if [ -z "${SEQNET_IMDB_DIR:-}" ] && [ -d "$root/data/aclImdb" ]; then
  export SEQNET_IMDB_DIR="$root/data/aclImdb"
fi
jobs="$(nproc 2>/dev/null || echo 2)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEQNET_WARNINGS_AS_ERRORS=ON "$@"
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs"
