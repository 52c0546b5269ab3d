#!/usr/bin/env bash
# Prepares the IMDB review data (aclImdb layout) for seqnet's tests and examples.
#
#   examples/prepare_imdb.sh [DEST]
#
# Environment:
#   IMDB_ARCHIVE  a local aclImdb archive (.tar.gz) to extract
#                 (default: <project>/../shared/data/aclImdb_v1_labeled.tar.gz)
#   IMDB_URL      where to download the archive when no local one exists
#                 (default: the official https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz)
#   DEST / $1     folder to extract into (default: <project>/data, git-ignored)
#
# It extracts only the labelled reviews ({train,test}/{pos,neg}), skips the work when they are already
# there, checks that each of the four folders holds 12,500 .txt files, and prints the line that points
# SEQNET_IMDB_DIR at the result.
set -eu

project_root=$(cd "$(dirname "$0")/.." && pwd)
archive=${IMDB_ARCHIVE:-"$project_root/../shared/data/aclImdb_v1_labeled.tar.gz"}
url=${IMDB_URL:-https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz}
dest=${1:-${DEST:-"$project_root/data"}}
expected=12500

die() {
  echo "prepare_imdb: error: $*" >&2
  exit 1
}

count_txt() {
  find "$1" -maxdepth 1 -type f -name '*.txt' | wc -l | tr -d ' '
}

# Returns 0 when all four folders hold the expected number of reviews.
complete() {
  for part in train/pos train/neg test/pos test/neg; do
    [ -d "$dest/aclImdb/$part" ] || return 1
    [ "$(count_txt "$dest/aclImdb/$part")" -eq "$expected" ] || return 1
  done
  return 0
}

mkdir -p "$dest" || die "cannot create the destination folder '$dest'"
dest=$(cd "$dest" && pwd)

if complete; then
  echo "prepare_imdb: $dest/aclImdb already holds the extracted reviews"
else
  if [ ! -f "$archive" ]; then
    echo "prepare_imdb: no archive at '$archive'; downloading $url"
    archive="$dest/aclImdb_v1.tar.gz"
    tmp="$archive.part"
    if command -v curl >/dev/null 2>&1; then
      curl -fL --retry 3 -o "$tmp" "$url" || { rm -f "$tmp"; die "download of $url failed (no internet? set IMDB_ARCHIVE to a local copy)"; }
    elif command -v wget >/dev/null 2>&1; then
      wget -O "$tmp" "$url" || { rm -f "$tmp"; die "download of $url failed (no internet? set IMDB_ARCHIVE to a local copy)"; }
    else
      die "no archive at '$archive' and neither curl nor wget is installed to download $url"
    fi
    mv "$tmp" "$archive"
  fi
  [ -r "$archive" ] || die "archive '$archive' is not readable"
  echo "prepare_imdb: extracting $archive into $dest"
  # Only the labelled reviews and the small top-level files; the official archive's train/unsup (50,000
  # unlabelled reviews) and bag-of-words files are not needed.
  tar -xzf "$archive" -C "$dest" --wildcards \
    'aclImdb/train/pos/*' 'aclImdb/train/neg/*' 'aclImdb/test/pos/*' 'aclImdb/test/neg/*' \
    || die "extracting '$archive' failed (is it an aclImdb .tar.gz archive?)"
fi

for part in train/pos train/neg test/pos test/neg; do
  dir="$dest/aclImdb/$part"
  [ -d "$dir" ] || die "folder '$dir' is missing after extraction"
  n=$(count_txt "$dir")
  [ "$n" -eq "$expected" ] || die "folder '$dir' holds $n .txt files, expected $expected"
done

echo "prepare_imdb: OK, 4 folders of $expected reviews in $dest/aclImdb"
echo "export SEQNET_IMDB_DIR=$dest/aclImdb"
