#!/usr/bin/env bash
# One command from a fresh Debian machine to the chapter's IMDB experiment:
# installs the dependencies, prepares the data, builds the example and trains a model.
# Usage: examples/run_imdb.sh [imdb_sentiment options]     (default: --model lstm, the chapter's M3)
#   IMDB_ARCHIVE=/path/aclImdb_v1.tar.gz  use this archive (default: ../shared/data/aclImdb_v1_labeled.tar.gz,
#                                         or the official download when there is none and internet is available)
#   SEQNET_IMDB_DIR=/path/aclImdb         use an already extracted data set instead
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/cmake/install-deps.sh"
if [ -z "${SEQNET_IMDB_DIR:-}" ]; then
  "$root/examples/prepare_imdb.sh"
  export SEQNET_IMDB_DIR="$root/data/aclImdb"
fi
build="${SEQNET_BUILD_DIR:-$root/build-release}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEQNET_NATIVE=ON -DSEQNET_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target imdb_sentiment -j "$(nproc 2>/dev/null || echo 2)"
if [ $# -eq 0 ]; then set -- --model lstm; fi
exec "$build/examples/imdb_sentiment" --data "$SEQNET_IMDB_DIR" "$@"
