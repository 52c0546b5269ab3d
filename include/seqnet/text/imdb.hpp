#pragma once
/// \file
/// read_imdb(): reads one half of the Large Movie Review Dataset in its official layout
/// `<dir>/{train,test}/{pos,neg}/<id>_<rating>.txt` (dir is the `aclImdb` folder).
///
/// Order (deterministic): all `neg` reviews (label 0), then all `pos` reviews (label 1), each folder sorted
/// by the numeric id of the file name (ties, e.g. "01_2" and "1_2", by the whole name). Shuffle before
/// training (text/split.hpp).
///
/// Errors: a missing folder, a folder without reviews, an unreadable or empty file -> IoError naming the
/// path; a `.txt`-less or otherwise non-matching file name, or a rating outside 1..10 -> FormatError naming
/// the file. Names starting with '.' and entries that are not regular files are ignored, except that an entry
/// named like a review that is not a regular file (a folder, a dangling link, a device) is an IoError.

#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace seqnet::text {

/// Which half of the data set.
enum class ImdbSubset { Train, Test };

/// Options of read_imdb.
struct ImdbOptions {
  /// Reader threads; 0 = one per hardware thread.
  unsigned threads = 0;
  /// Read at most this many reviews of each label (the first in the documented order); 0 = all.
  Index max_per_label = 0;
};

/// The reviews of one half, in the documented order.
struct ImdbSplit {
  std::vector<std::string> texts;
  std::vector<std::int32_t> labels;   ///< 1 = pos, 0 = neg
  std::vector<std::int32_t> ratings;  ///< stars from the file name, 1..10 (1-4 neg, 7-10 pos in aclImdb)
  std::vector<std::string> files;     ///< path of each review, for messages and lookups
  std::size_t size() const { return texts.size(); }
};

namespace detail {

struct ImdbFile {
  std::string path;
  std::string name;
  std::int64_t id = 0;
  std::int32_t rating = 0;
  std::int32_t label = 0;
};

/// Parses "<id>_<rating>.txt" (digits only). Returns false when the name does not match.
inline bool parse_imdb_name(const std::string& name, std::int64_t& id, std::int32_t& rating) {
  const std::string ext = ".txt";
  if (name.size() <= ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0) return false;
  const std::string stem = name.substr(0, name.size() - ext.size());
  const std::size_t us = stem.find('_');
  if (us == std::string::npos || us == 0 || us + 1 == stem.size()) return false;
  const auto all_digits = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const std::string a = stem.substr(0, us), b = stem.substr(us + 1);
  if (!all_digits(a) || !all_digits(b) || a.size() > 15 || b.size() > 3) return false;
  id = std::stoll(a);
  rating = static_cast<std::int32_t>(std::stoi(b));
  return true;
}

inline std::vector<ImdbFile> list_imdb_folder(const std::filesystem::path& folder, std::int32_t label) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw IoError("read_imdb: folder '" + folder.string() + "' does not exist or is not a folder");
  std::vector<ImdbFile> files;
  fs::directory_iterator it(folder, ec), end;
  if (ec) throw IoError("read_imdb: cannot list '" + folder.string() + "': " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw IoError("read_imdb: cannot list '" + folder.string() + "': " + ec.message());
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code ec2;
    const bool regular = it->is_regular_file(ec2);
    ImdbFile f;
    f.path = it->path().string();
    f.name = name;
    f.label = label;
    const bool review_name = parse_imdb_name(name, f.id, f.rating);
    if (!regular) {
      // Skipping an entry named like a review would silently drop that review from the data set.
      if (review_name)
        throw IoError("read_imdb: '" + f.path +
                      "' is not a regular file (a folder, a dangling link or a device), so the review cannot be read");
      continue;
    }
    if (!review_name) throw FormatError("read_imdb: file name '" + f.path + "' does not match <id>_<rating>.txt");
    if (f.rating < 1 || f.rating > 10)
      throw FormatError("read_imdb: file '" + f.path + "' has rating " + std::to_string(f.rating) + ", outside 1..10");
    files.push_back(std::move(f));
  }
  if (files.empty()) throw IoError("read_imdb: folder '" + folder.string() + "' holds no reviews");
  std::sort(files.begin(), files.end(),
            [](const ImdbFile& x, const ImdbFile& y) { return x.id != y.id ? x.id < y.id : x.name < y.name; });
  return files;
}

inline std::string read_review(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("read_imdb: cannot open '" + path + "'");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw IoError("read_imdb: cannot read '" + path + "'");
  if (size == 0) throw IoError("read_imdb: file '" + path + "' is empty");
  std::string text(static_cast<std::size_t>(size), '\0');
  in.seekg(0, std::ios::beg);
  in.read(&text[0], static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size)) throw IoError("read_imdb: cannot read '" + path + "'");
  return text;
}

}  // namespace detail

/// Reads `<dir>/<train|test>/{neg,pos}`; see the header comment for order and errors.
inline ImdbSplit read_imdb(const std::string& dir, ImdbSubset subset, const ImdbOptions& options = {}) {
  if (options.max_per_label < 0) throw InvalidArgument("read_imdb: max_per_label must not be negative");
  if (dir.empty()) throw IoError("read_imdb: no data folder given (set SEQNET_IMDB_DIR to the aclImdb folder)");
  const std::filesystem::path root = std::filesystem::path(dir) / (subset == ImdbSubset::Train ? "train" : "test");
  std::vector<detail::ImdbFile> files;
  for (const auto& [folder, label] : {std::pair<const char*, std::int32_t>{"neg", 0}, {"pos", 1}}) {
    auto part = detail::list_imdb_folder(root / folder, label);
    if (options.max_per_label > 0 && static_cast<Index>(part.size()) > options.max_per_label)
      part.resize(static_cast<std::size_t>(options.max_per_label));
    std::move(part.begin(), part.end(), std::back_inserter(files));
  }

  ImdbSplit out;
  const std::size_t n = files.size();
  out.texts.resize(n);
  out.labels.resize(n);
  out.ratings.resize(n);
  out.files.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.labels[i] = files[i].label;
    out.ratings[i] = files[i].rating;
    out.files[i] = files[i].path;
  }

  unsigned threads = options.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : options.threads;
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, n / 64)));
  // Each thread reads every threads-th file; the first failing file (in order) is the one reported.
  std::vector<std::size_t> first_error(threads, n);
  std::vector<std::exception_ptr> errors(threads);
  const auto work = [&](unsigned t) {
    for (std::size_t i = t; i < n; i += threads) {
      try {
        out.texts[i] = detail::read_review(files[i].path);
      } catch (...) {
        first_error[t] = i;
        errors[t] = std::current_exception();
        return;
      }
    }
  };
  if (threads == 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work, t);
    for (auto& th : pool) th.join();
  }
  std::size_t worst = n;
  std::exception_ptr err;
  for (unsigned t = 0; t < threads; ++t)
    if (errors[t] && first_error[t] < worst) {
      worst = first_error[t];
      err = errors[t];
    }
  if (err) std::rethrow_exception(err);
  return out;
}

/// As above with the subset named "train" or "test" (for command lines). Throws InvalidArgument otherwise.
inline ImdbSplit read_imdb(const std::string& dir, const std::string& subset, const ImdbOptions& options = {}) {
  if (subset == "train") return read_imdb(dir, ImdbSubset::Train, options);
  if (subset == "test") return read_imdb(dir, ImdbSubset::Test, options);
  throw InvalidArgument("read_imdb: subset '" + subset + "' is neither 'train' nor 'test'");
}

/// The value of the environment variable SEQNET_IMDB_DIR (the aclImdb folder), or "" when it is unset.
inline std::string imdb_dir_from_env() {
  const char* v = std::getenv("SEQNET_IMDB_DIR");
  return v ? std::string(v) : std::string();
}

}  // namespace seqnet::text
