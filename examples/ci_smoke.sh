#!/usr/bin/env bash
# A short run of the IMDB example (a subset, one epoch) that checks every output file appears, that
# predict answers for text and standard input, and that bad input gets a one-line error and a non-zero exit.
# Usage: examples/ci_smoke.sh BUILD_DIR     (needs SEQNET_IMDB_DIR)
set -euo pipefail
build="$1"
bin="$build/examples/imdb_sentiment"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail() { echo "ci_smoke: $*" >&2; exit 1; }

"$bin" --model lstm --max-train 2000 --epochs 1 --quiet --out "$out/run" > "$out/train.log" || { cat "$out/train.log"; fail "training failed"; }
cat "$out/train.log"
for f in best_model.seqnet history.csv curves.svg metrics.json; do
  [ -s "$out/run/$f" ] || fail "missing output $f"
done
grep -q '"test_accuracy"' "$out/run/metrics.json" || fail "metrics.json has no test_accuracy"
[ "$(wc -l < "$out/run/history.csv")" -eq 2 ] || fail "history.csv should hold a header and one epoch"

"$bin" predict --model-file "$out/run/best_model.seqnet" "A wonderful, moving film with a brilliant cast." \
  "Dull, boring and far too long. The worst film I have seen." | tee "$out/predict.txt"
[ "$(grep -cE '^[01]\.[0-9]{4}	(positive|negative)	' "$out/predict.txt")" -eq 2 ] || fail "predict did not answer for both texts"
printf 'great movie\n\nterrible movie\n' | "$bin" predict --model-file "$out/run/best_model.seqnet" > "$out/stdin.txt"
[ "$(wc -l < "$out/stdin.txt")" -eq 2 ] || fail "predict from standard input should answer two lines"

"$bin" --model lstm --summary-only | grep -q 'Total params: 8,809' || fail "summary of lstm should total 8,809"

expect_error() {  # expect_error DESCRIPTION COMMAND...: a one-line error on stderr and a non-zero exit
  local what="$1"; shift
  if "$@" > /dev/null 2> "$out/err.txt"; then fail "$what: should have failed"; fi
  [ "$(wc -l < "$out/err.txt")" -ge 1 ] || fail "$what: no error message"
  echo "ok ($what): $(head -n 1 "$out/err.txt")"
}
expect_error "unknown model" "$bin" --model nosuch --summary-only
expect_error "empty model name" "$bin" --model "" --summary-only
expect_error "missing data" "$bin" --model lstm --data /nonexistent/aclImdb
expect_error "unreadable model file" "$bin" predict --model-file /nonexistent/model.seqnet "text"
printf 'not a model' > "$out/garbage.seqnet"
expect_error "corrupt model file" "$bin" predict --model-file "$out/garbage.seqnet" "text"
expect_error "empty text" "$bin" predict --model-file "$out/run/best_model.seqnet" ""
echo "ci_smoke: all checks passed"
