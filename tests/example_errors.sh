#!/usr/bin/env bash
# The IMDB example given bad input (docs/reliability.md): every case must end with exactly one line on
# standard error, "imdb_sentiment: error: ...", naming the problem, and a non-zero exit code that is not a
# crash (a signal gives 128 + n). Runs on a tiny aclImdb-like folder made here, so it needs no download.
# Usage: tests/example_errors.sh PATH/TO/imdb_sentiment WORK_DIR        (registered with ctest)
set -uo pipefail
bin="$1"
work="$2"
rm -rf "$work"
mkdir -p "$work"
failures=0
fail() {
  echo "FAIL ($1): $2"
  failures=$((failures + 1))
}

# expect_error NAME TEXT COMMAND...: the command fails cleanly and its one-line error contains TEXT.
# Standard input comes from the caller (redirect it; /dev/null by default in the calls below).
expect_error() {
  local name="$1" want="$2"
  shift 2
  "$@" > "$work/stdout.txt" 2> "$work/stderr.txt"
  local rc=$?
  local lines
  lines="$(wc -l < "$work/stderr.txt")"
  if [ "$rc" -eq 0 ]; then
    fail "$name" "exit code 0, expected an error"
  elif [ "$rc" -ge 128 ]; then
    fail "$name" "exit code $rc: killed by a signal"
  elif [ "$lines" -ne 1 ]; then
    fail "$name" "$lines lines on standard error, expected 1: $(head -c 600 "$work/stderr.txt")"
  elif ! grep -q '^imdb_sentiment: error: ' "$work/stderr.txt"; then
    fail "$name" "the error does not start with 'imdb_sentiment: error: ': $(cat "$work/stderr.txt")"
  elif ! grep -qF -- "$want" "$work/stderr.txt"; then
    fail "$name" "the error does not say '$want': $(cat "$work/stderr.txt")"
  else
    echo "ok ($name, exit $rc): $(cat "$work/stderr.txt")"
  fi
}

# A tiny data set: 6 reviews per label for training, 2 for testing.
data="$work/aclImdb"
for half in train test; do
  n=6
  [ "$half" = test ] && n=2
  mkdir -p "$data/$half/neg" "$data/$half/pos"
  for i in $(seq 1 "$n"); do
    echo "a bad, boring and dull film number $i" > "$data/$half/neg/${i}_2.txt"
    echo "a great, moving and brilliant film number $i" > "$data/$half/pos/${i}_9.txt"
  done
done
# copy_data NAME: a fresh copy of the data set to break in one place.
copy_data() {
  rm -rf "$work/$1"
  cp -r "$data" "$work/$1"
  echo "$work/$1"
}

train=("$bin" --model lstm --epochs 1 --threads 1 --quiet)
"${train[@]}" --data "$data" --out "$work/run" > "$work/train.log" 2>&1 || {
  cat "$work/train.log"
  echo "FAIL: training on the tiny data set failed"
  exit 1
}
model="$work/run/best_model.seqnet"
[ -s "$model" ] || { echo "FAIL: no model file"; exit 1; }

# ---- training: data ----------------------------------------------------------------------------------
expect_error "missing data folder" "does not exist" "${train[@]}" --data "$work/nowhere" --out "$work/o" < /dev/null
mkdir -p "$work/empty"
expect_error "empty data folder" "train/neg' does not exist" "${train[@]}" --data "$work/empty" --out "$work/o" < /dev/null
expect_error "no data folder" "no data folder" env -u SEQNET_IMDB_DIR "${train[@]}" --out "$work/o" < /dev/null
d="$(copy_data nofiles)"
rm -f "$d"/test/pos/*
expect_error "folder without reviews" "holds no reviews" "${train[@]}" --data "$d" --out "$work/o" < /dev/null
d="$(copy_data dir_review)"
mkdir -p "$d/train/pos/99_9.txt"
expect_error "review that is a folder" "99_9.txt' is not a regular file" "${train[@]}" --data "$d" --out "$work/o" < /dev/null
d="$(copy_data dangling)"
ln -s "$work/no-such-review.txt" "$d/train/neg/98_1.txt"
expect_error "review that is a dangling link" "98_1.txt' is not a regular file" "${train[@]}" --data "$d" --out "$work/o" < /dev/null
if [ -e /proc/self/mem ]; then
  d="$(copy_data unreadable)"
  ln -s /proc/self/mem "$d/train/neg/97_1.txt"
  expect_error "review that cannot be read" "cannot read" "${train[@]}" --data "$d" --out "$work/o" < /dev/null
fi
d="$(copy_data empty_review)"
: > "$d/train/pos/1_9.txt"
expect_error "empty review file" "is empty" "${train[@]}" --data "$d" --out "$work/o" < /dev/null
d="$(copy_data bad_name)"
echo "text" > "$d/test/neg/review.txt"
expect_error "review file name" "does not match <id>_<rating>.txt" "${train[@]}" --data "$d" --out "$work/o" < /dev/null
echo "a file" > "$work/a_file"
expect_error "output folder is a file" "a_file" "${train[@]}" --data "$data" --out "$work/a_file" < /dev/null

# ---- training: settings ------------------------------------------------------------------------------
expect_error "unknown model" "unknown model 'nosuch'" "$bin" --model nosuch --summary-only < /dev/null
expect_error "empty model name" "unknown model ''" "$bin" --model "" --summary-only < /dev/null
expect_error "unknown task" "unknown task 'stars'" "$bin" --task stars --data "$data" < /dev/null
expect_error "unknown optimizer" "unknown optimizer 'adamw'" "$bin" --optimizer adamw --data "$work/nowhere" < /dev/null
expect_error "negative learning rate" "--lr must be positive" "$bin" --lr -0.01 --data "$data" < /dev/null
expect_error "NaN learning rate" "--lr must be positive" "$bin" --lr nan --data "$data" < /dev/null
expect_error "infinite learning rate" "--lr must be positive" "$bin" --lr inf --data "$data" < /dev/null
expect_error "zero epochs" "--epochs must be positive, got 0" "$bin" --epochs 0 --data "$data" < /dev/null
expect_error "negative epochs" "--epochs must be positive, got -2" "$bin" --epochs -2 --data "$data" < /dev/null
expect_error "non-numeric epochs" "--epochs" "$bin" --epochs many --data "$data" < /dev/null
expect_error "zero batch size" "--batch-size must be positive, got 0" "$bin" --batch-size 0 --data "$data" < /dev/null
expect_error "negative batch size" "--batch-size must be positive, got -64" "$bin" --batch-size -64 --data "$data" < /dev/null
expect_error "zero threads" "--threads: Value 0 not in range" "$bin" --threads 0 --summary-only < /dev/null
expect_error "num-words too small" "--num-words" "$bin" --num-words 3 --summary-only < /dev/null
expect_error "zero maxlen" "--maxlen" "$bin" --maxlen 0 --summary-only < /dev/null
expect_error "zero units" "--units" "$bin" --units 0 --summary-only < /dev/null
expect_error "dropout 1" "--dropout" "$bin" --dropout 1 --summary-only < /dev/null
expect_error "negative patience" "--patience" "$bin" --patience -1 --summary-only < /dev/null
expect_error "negative seed" "--seed: must not be negative, got -1" "$bin" --seed -1 --summary-only < /dev/null
expect_error "negative max-train" "--max-train" "$bin" --max-train -5 --summary-only < /dev/null
expect_error "unknown option" "--bogus" "$bin" --bogus < /dev/null

# ---- predict -----------------------------------------------------------------------------------------
expect_error "no model file option" "--model-file is required" "$bin" predict "text" < /dev/null
expect_error "missing model file" "No such file or directory" "$bin" predict --model-file "$work/none.seqnet" "text" < /dev/null
expect_error "model file is a folder" "not a regular file" "$bin" predict --model-file "$work" "text" < /dev/null
: > "$work/empty.seqnet"
expect_error "empty model file" "empty.seqnet" "$bin" predict --model-file "$work/empty.seqnet" "text" < /dev/null
head -c 300 "$model" > "$work/truncated.seqnet"
expect_error "truncated model file" "truncated" "$bin" predict --model-file "$work/truncated.seqnet" "text" < /dev/null
cp "$model" "$work/flipped.seqnet"
size="$(wc -c < "$model")"
printf '\x5a' | dd of="$work/flipped.seqnet" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_error "model file with a flipped byte" "checksum" "$bin" predict --model-file "$work/flipped.seqnet" "text" < /dev/null
printf 'not a model at all, just text' > "$work/garbage.seqnet"
expect_error "model file of garbage" "garbage.seqnet" "$bin" predict --model-file "$work/garbage.seqnet" "text" < /dev/null
expect_error "empty text" "text 1 is empty" "$bin" predict --model-file "$model" "" < /dev/null
expect_error "blank second text" "text 2 is empty" "$bin" predict --model-file "$model" "good" "  " < /dev/null
expect_error "nothing on standard input" "no text given" "$bin" predict --model-file "$model" < /dev/null
printf '\n  \n\n' > "$work/blank.txt"
expect_error "only blank lines on standard input" "no text given" "$bin" predict --model-file "$model" < "$work/blank.txt"

# Hostile text that is not an error: NUL bytes, invalid UTF-8 and a 1 MB line are scored, one line each.
{
  printf 'good\0film\n'
  printf '\xff\xfe\xc3 bad \xed\xa0\x80 film\n'
  head -c 1000000 /dev/zero | tr '\0' 'a'
  printf '\n'
} > "$work/hostile.txt"
if "$bin" predict --model-file "$model" < "$work/hostile.txt" > "$work/hostile.out" 2> "$work/stderr.txt"; then
  if [ "$(grep -cE '^[01]\.[0-9]{4}	(positive|negative)	' "$work/hostile.out")" -eq 3 ]; then
    echo "ok (NUL bytes, invalid UTF-8 and a 1 MB text are scored)"
  else
    fail "hostile text" "expected 3 scored lines, got: $(head -c 300 "$work/hostile.out")"
  fi
else
  fail "hostile text" "exit code $?: $(cat "$work/stderr.txt")"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures case(s) failed"
  exit 1
fi
rm -rf "$work"
echo "all cases passed"
