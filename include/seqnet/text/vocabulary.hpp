#pragma once
/// \file
/// Vocabulary: maps tokens to integer ids, built from training texts only (most frequent first, ties broken
/// by the words' byte order), in one of two conventions:
///
/// | convention          | 0       | 1               | 2               | words from | cut                     |
/// |---------------------|---------|-----------------|-----------------|------------|-------------------------|
/// | `KerasImdb`         | padding | start of review | out of vocabulary | 3        | `num_words`: ids < N    |
/// | `TextVectorization` | padding | out of vocabulary | first word    | 2          | `max_tokens`: ids < N   |
///
/// `KerasImdb` prepends the start id to every encoded text. Words cut off by the limit are not stored;
/// they encode to the out-of-vocabulary id like any unknown word.
///
/// serialize() gives a compact, versioned, checksummed byte string (layout in docs/text.md) that a model file
/// embeds, so a saved model can score raw text; deserialize() validates every field against the bytes that
/// remain and throws FormatError on anything malformed, never allocating more than the input justifies.

#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"
#include "seqnet/text/tokenizer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace seqnet::text {

/// Which ids are reserved and where words start (see the table at the top of this header).
enum class Convention : std::uint8_t {
  KerasImdb = 0,          ///< 0 padding, 1 start of review (prepended), 2 out of vocabulary, words from 3
  TextVectorization = 1,  ///< 0 padding, 1 out of vocabulary, words from 2, no start id
};

/// How a vocabulary is built.
struct VocabularyOptions {
  Convention convention = Convention::KerasImdb;
  /// KerasImdb only: keep ids < num_words (Keras' `load_data(num_words=N)`); 0 keeps every word.
  Index num_words = 0;
  /// TextVectorization only: keep ids < max_tokens (padding and OOV included, as Keras); 0 keeps every word.
  Index max_tokens = 0;
  /// How texts are split into tokens; stored with the vocabulary so encode() splits the same way later.
  TokenizerOptions tokenizer{};
};

namespace detail {

/// FNV-1a, 32 bits: a checksum of the serialized vocabulary (catches flipped and swapped bytes).
inline std::uint32_t fnv1a32(std::string_view bytes) {
  std::uint32_t h = 2166136261u;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFFu));
}
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFFu));
}

/// Reads little-endian fields with a bounds check before every read.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  std::size_t remaining() const { return bytes_.size() - pos_; }
  std::size_t position() const { return pos_; }
  std::uint64_t uint(std::size_t width, const char* what) {
    need(width, what);
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < width; ++k)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes_[pos_ + k])) << (8 * k);
    pos_ += width;
    return v;
  }
  std::string_view take(std::size_t n, const char* what) {
    need(n, what);
    const std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (n > remaining())
      throw FormatError("Vocabulary: truncated data: " + std::string(what) + " needs " + std::to_string(n) +
                        " bytes at offset " + std::to_string(pos_) + ", only " + std::to_string(remaining()) +
                        " remain");
  }
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// Token <-> id mapping in one of the two conventions.
class Vocabulary {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;
  static constexpr std::string_view kMagic{"SQNVOCAB", 8};

  /// An empty vocabulary (every word is out of vocabulary).
  explicit Vocabulary(const VocabularyOptions& options = {}) : options_(options) { check_options(options_); }

  /// Counts the tokens of `texts` (training texts only) and keeps the most frequent first, ties broken by
  /// the words' byte order, up to the options' limit.
  static Vocabulary build(const std::vector<std::string>& texts, const VocabularyOptions& options = {}) {
    check_options(options);
    std::unordered_map<std::string, std::int64_t> counts;
    for (const std::string& t : texts) {
      for_each_token(
          t,
          [&](const std::string& tok) {
            auto it = counts.find(tok);
            if (it == counts.end())
              counts.emplace(tok, 1);
            else
              ++it->second;
          },
          options.tokenizer);
    }
    std::vector<std::pair<std::string, std::int64_t>> ranked;
    ranked.reserve(counts.size());
    for (auto& kv : counts) ranked.emplace_back(kv.first, kv.second);
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::vector<std::string> words;
    words.reserve(ranked.size());
    for (auto& p : ranked) words.push_back(std::move(p.first));
    return from_ranked_words(std::move(words), options);
  }

  /// A vocabulary from words already ranked (index 0 gets the first word id); the limit applies.
  /// Throws InvalidArgument on an empty or repeated word.
  static Vocabulary from_ranked_words(std::vector<std::string> words, const VocabularyOptions& options = {}) {
    Vocabulary v(options);
    const Index limit = v.limit();
    if (limit > 0) {
      const auto keep = static_cast<std::size_t>(std::max<Index>(0, limit - v.first_word_id()));
      if (words.size() > keep) words.resize(keep);
    }
    if (words.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max() - v.first_word_id()))
      throw InvalidArgument("Vocabulary: too many words for 32-bit ids");
    v.words_ = std::move(words);
    v.index_.reserve(v.words_.size());
    for (std::size_t k = 0; k < v.words_.size(); ++k) {
      if (v.words_[k].empty()) throw InvalidArgument("Vocabulary: word " + std::to_string(k) + " is empty");
      if (!v.index_.emplace(v.words_[k], v.first_word_id() + static_cast<std::int32_t>(k)).second)
        throw InvalidArgument("Vocabulary: word '" + v.words_[k] + "' appears twice");
    }
    return v;
  }

  const VocabularyOptions& options() const { return options_; }
  Convention convention() const { return options_.convention; }
  /// The cut in force (num_words or max_tokens), 0 for none.
  Index limit() const {
    return options_.convention == Convention::KerasImdb ? options_.num_words : options_.max_tokens;
  }

  static constexpr std::int32_t padding_id() { return 0; }
  /// 1 in KerasImdb; -1 in TextVectorization (no start id).
  std::int32_t start_id() const { return options_.convention == Convention::KerasImdb ? 1 : -1; }
  /// 2 in KerasImdb, 1 in TextVectorization.
  std::int32_t oov_id() const { return options_.convention == Convention::KerasImdb ? 2 : 1; }
  /// 3 in KerasImdb, 2 in TextVectorization.
  std::int32_t first_word_id() const { return options_.convention == Convention::KerasImdb ? 3 : 2; }

  /// Number of ids encode() can produce: reserved ids plus stored words (the input size of an Embedding).
  Index size() const { return first_word_id() + static_cast<Index>(words_.size()); }
  /// Number of stored words (reserved ids not counted).
  Index num_words() const { return static_cast<Index>(words_.size()); }
  /// The stored words, most frequent first (words_()[k] has id first_word_id() + k).
  const std::vector<std::string>& words() const { return words_; }

  /// The id `word` encodes to: its own id, or oov_id() when it is not stored. `word` is matched as is
  /// (pass a token, i.e. already lower-cased).
  std::int32_t id(const std::string& word) const {
    const auto it = index_.find(word);
    return it == index_.end() ? oov_id() : it->second;
  }
  bool contains(const std::string& word) const { return index_.count(word) != 0; }

  /// The word of `id`; reserved ids give "" (padding), "[START]" and "[UNK]". Throws InvalidArgument
  /// for an id outside [0, size()).
  std::string word(std::int32_t id) const {
    if (id < 0 || id >= size())
      throw InvalidArgument("Vocabulary: id " + std::to_string(id) + " outside [0, " + std::to_string(size()) + ")");
    if (id == padding_id()) return "";
    if (id == oov_id()) return "[UNK]";
    if (id == start_id()) return "[START]";
    return words_[static_cast<std::size_t>(id - first_word_id())];
  }

  /// Ids of the tokens of `text` (start id first in KerasImdb).
  std::vector<std::int32_t> encode(std::string_view text) const {
    std::vector<std::int32_t> ids;
    ids.reserve(text.size() / 5 + 2);
    if (start_id() >= 0) ids.push_back(start_id());
    for_each_token(
        text, [&](const std::string& tok) { ids.push_back(id(tok)); }, options_.tokenizer);
    return ids;
  }
  /// Ids of already split tokens (start id first in KerasImdb).
  std::vector<std::int32_t> encode(const std::vector<std::string>& tokens) const {
    std::vector<std::int32_t> ids;
    ids.reserve(tokens.size() + 1);
    if (start_id() >= 0) ids.push_back(start_id());
    for (const std::string& t : tokens) ids.push_back(id(t));
    return ids;
  }
  /// encode() of every text, on `threads` threads (0: one per hardware thread); same result as a loop.
  std::vector<std::vector<std::int32_t>> encode_all(const std::vector<std::string>& texts, unsigned threads = 0) const {
    std::vector<std::vector<std::int32_t>> out(texts.size());
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, texts.size() / 64)));
    const auto work = [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) out[i] = encode(texts[i]);
    };
    if (threads <= 1) {
      work(0, texts.size());
      return out;
    }
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(threads);
    const std::size_t chunk = (texts.size() + threads - 1) / threads;
    for (unsigned t = 0; t < threads; ++t) {
      const std::size_t begin = std::min(texts.size(), t * chunk), end = std::min(texts.size(), begin + chunk);
      pool.emplace_back([&, t, begin, end] {
        try {
          work(begin, end);
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
    }
    for (auto& th : pool) th.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
    return out;
  }

  /// Compact binary form (layout in docs/text.md): magic, version, convention, tokenizer flags, limit,
  /// word count, length-prefixed words, FNV-1a checksum.
  std::string serialize() const {
    std::string out;
    std::size_t total = kMagic.size() + 4 + 4 + 8 + 8 + 4;
    for (const auto& w : words_) total += 4 + w.size();
    out.reserve(total);
    out.append(kMagic.data(), kMagic.size());
    detail::put_u32(out, kFormatVersion);
    out.push_back(static_cast<char>(options_.convention));
    out.push_back(
        static_cast<char>((options_.tokenizer.lowercase ? 1 : 0) | (options_.tokenizer.strip_html_breaks ? 2 : 0)));
    out.push_back(0);
    out.push_back(0);
    detail::put_u64(out, static_cast<std::uint64_t>(limit()));
    detail::put_u64(out, static_cast<std::uint64_t>(words_.size()));
    for (const auto& w : words_) {
      detail::put_u32(out, static_cast<std::uint32_t>(w.size()));
      out += w;
    }
    detail::put_u32(out, detail::fnv1a32(out));
    return out;
  }

  /// Parses serialize() output. Throws FormatError naming the problem (wrong magic, newer version, bad field,
  /// truncation, a length beyond the remaining bytes, empty or repeated word, trailing bytes, checksum).
  static Vocabulary deserialize(std::string_view bytes) {
    detail::ByteReader r(bytes);
    if (r.remaining() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic)
      throw FormatError("Vocabulary: not a seqnet vocabulary (wrong magic)");
    r.take(kMagic.size(), "magic");
    const auto version = r.uint(4, "version");
    if (version == 0 || version > kFormatVersion)
      throw FormatError("Vocabulary: format version " + std::to_string(version) +
                        " is not supported (this build reads 1 to " + std::to_string(kFormatVersion) + ")");
    const auto conv = r.uint(1, "convention");
    if (conv > 1) throw FormatError("Vocabulary: unknown convention " + std::to_string(conv));
    const auto flags = r.uint(1, "tokenizer flags");
    if (flags > 3) throw FormatError("Vocabulary: unknown tokenizer flags " + std::to_string(flags));
    if (r.uint(2, "reserved") != 0) throw FormatError("Vocabulary: reserved bytes are not zero");
    const auto limit = r.uint(8, "limit");
    const auto count = r.uint(8, "word count");

    VocabularyOptions opt;
    opt.convention = static_cast<Convention>(conv);
    opt.tokenizer.lowercase = (flags & 1u) != 0;
    opt.tokenizer.strip_html_breaks = (flags & 2u) != 0;
    const std::uint64_t first = opt.convention == Convention::KerasImdb ? 3 : 2;
    if (limit != 0 && (limit <= first || limit > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())))
      throw FormatError("Vocabulary: limit " + std::to_string(limit) + " is out of range");
    (opt.convention == Convention::KerasImdb ? opt.num_words : opt.max_tokens) = static_cast<Index>(limit);
    // Every word takes at least 5 bytes (length + one byte), and the checksum 4 more: a count that the
    // remaining bytes cannot hold is refused before anything is allocated for it.
    if (r.remaining() < 4 || count > (r.remaining() - 4) / 5)
      throw FormatError("Vocabulary: word count " + std::to_string(count) + " does not fit in the " +
                        std::to_string(r.remaining()) + " remaining bytes");
    if (limit != 0 && first + count > limit)
      throw FormatError("Vocabulary: " + std::to_string(count) + " words exceed the limit " + std::to_string(limit));

    std::vector<std::string> words;
    words.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t k = 0; k < count; ++k) {
      const auto len = r.uint(4, "word length");
      if (len == 0) throw FormatError("Vocabulary: word " + std::to_string(k) + " is empty");
      if (len > r.remaining())
        throw FormatError("Vocabulary: word " + std::to_string(k) + " claims " + std::to_string(len) + " bytes, only " +
                          std::to_string(r.remaining()) + " remain");
      words.emplace_back(r.take(static_cast<std::size_t>(len), "word"));
    }
    const std::size_t body_end = r.position();
    const auto stored = r.uint(4, "checksum");
    if (r.remaining() != 0)
      throw FormatError("Vocabulary: " + std::to_string(r.remaining()) + " unexpected bytes after the checksum");
    if (stored != detail::fnv1a32(bytes.substr(0, body_end)))
      throw FormatError("Vocabulary: checksum mismatch (the data is corrupted)");
    try {
      return from_ranked_words(std::move(words), opt);
    } catch (const InvalidArgument& e) {
      throw FormatError(e.what());
    }
  }

  /// Writes serialize() to `path` (through a temporary file renamed over it). Throws IoError.
  void save(const std::string& path) const {
    const std::string bytes = serialize();
    const std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      if (!f) throw IoError("Vocabulary: cannot open '" + tmp + "' for writing");
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      f.flush();
      if (!f) throw IoError("Vocabulary: writing '" + tmp + "' failed");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::remove(tmp.c_str());
      throw IoError("Vocabulary: cannot rename '" + tmp + "' to '" + path + "'");
    }
  }

  /// Reads a file written by save(). Throws IoError (unreadable) or FormatError (malformed).
  static Vocabulary load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw IoError("Vocabulary: cannot open '" + path + "'");
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) throw IoError("Vocabulary: reading '" + path + "' failed");
    try {
      return deserialize(bytes);
    } catch (const FormatError& e) {
      throw FormatError(std::string(e.what()) + " in '" + path + "'");
    }
  }

 private:
  static void check_options(const VocabularyOptions& o) {
    if (o.convention != Convention::KerasImdb && o.convention != Convention::TextVectorization)
      throw InvalidArgument("Vocabulary: unknown convention");
    if (o.num_words < 0 || o.max_tokens < 0)
      throw InvalidArgument("Vocabulary: num_words and max_tokens must not be negative");
    if (o.convention == Convention::KerasImdb) {
      if (o.max_tokens != 0)
        throw InvalidArgument("Vocabulary: max_tokens applies to TextVectorization; use num_words");
      if (o.num_words != 0 && o.num_words <= 3)
        throw InvalidArgument("Vocabulary: num_words " + std::to_string(o.num_words) +
                              " leaves no room for words (ids 0-2 are reserved); use 0 or more than 3");
    } else {
      if (o.num_words != 0) throw InvalidArgument("Vocabulary: num_words applies to KerasImdb; use max_tokens");
      if (o.max_tokens != 0 && o.max_tokens <= 2)
        throw InvalidArgument("Vocabulary: max_tokens " + std::to_string(o.max_tokens) +
                              " leaves no room for words (ids 0-1 are reserved); use 0 or more than 2");
    }
    if (o.num_words > std::numeric_limits<std::int32_t>::max() ||
        o.max_tokens > std::numeric_limits<std::int32_t>::max())
      throw InvalidArgument("Vocabulary: limit above the 32-bit id range");
  }

  VocabularyOptions options_;
  std::vector<std::string> words_;
  std::unordered_map<std::string, std::int32_t> index_;
};

}  // namespace seqnet::text
