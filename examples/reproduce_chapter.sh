#!/usr/bin/env bash
# Trains the chapter's six models (M1-M6) with the chapter's settings, plus the second edition's Adam variant
# of M5 and M6, and writes docs/results.md from their metrics.json files beside Keras' numbers.
# Usage: examples/reproduce_chapter.sh [BUILD_DIR] [OUT_DIR]     (needs SEQNET_IMDB_DIR or data/aclImdb)
# Extra options for every run can be given in SEQNET_REPRO_ARGS (e.g. "--threads 2").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-release}"
out="${2:-$root/out/chapter}"
bin="$build/examples/imdb_sentiment"
if [ ! -x "$bin" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEQNET_NATIVE=ON -DSEQNET_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" --target imdb_sentiment -j "$(nproc 2>/dev/null || echo 2)"
fi
export SEQNET_IMDB_DIR="${SEQNET_IMDB_DIR:-$root/data/aclImdb}"
[ -d "$SEQNET_IMDB_DIR" ] || { echo "reproduce_chapter.sh: no data at $SEQNET_IMDB_DIR (run examples/prepare_imdb.sh)" >&2; exit 1; }

run() {  # run NAME ARGS...
  local name="$1"; shift
  echo "=== $name: $*"
  # shellcheck disable=SC2086
  "$bin" --quiet --out "$out/$name" "$@" ${SEQNET_REPRO_ARGS:-} | tail -n 4
}
for m in onehot-rnn emb-rnn lstm lstm-dropout lstm-2layer gru; do run "$m" --model "$m"; done
run lstm-2layer-adam --model lstm-2layer --optimizer adam --dropout 0.2
run gru-adam --model gru --optimizer adam

mkdir -p "$root/docs/img"
for d in "$out"/*/; do
  name="$(basename "$d")"
  [ -f "$d/curves.svg" ] && cp "$d/curves.svg" "$root/docs/img/curves-$name.svg"
done
python3 "$root/examples/results_table.py" "$out" > "$root/docs/results.md"
echo "wrote docs/results.md"
