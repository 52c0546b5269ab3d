#pragma once
/// \file
/// tokenize(): splits a review into lower-case words, the first step from text to network input.
///
/// Rules (docs/text.md has examples):
/// - Word characters are ASCII letters and digits and every valid UTF-8 multi-byte character except the
///   punctuation and space ranges listed below. ASCII letters are lower-cased; other characters are kept as
///   they are (no Unicode case folding).
/// - HTML line breaks `<br>`, `<br/>`, `<br />` (any case, any spaces before the slash) act as spaces.
/// - Every other ASCII byte (punctuation, spaces, control characters, NUL) separates words.
/// - An apostrophe (`'`, or U+2019 / U+02BC, written as `'`) stays inside a word when it has a word
///   character on both sides ("don't", "it's", "rock'n'roll"); anywhere else it separates.
/// - Separators among multi-byte characters: U+0080..U+00BF (Latin-1 controls, punctuation and symbols
///   such as NBSP, « », ´, ·), U+2000..U+206F (general punctuation: dashes, curly quotes, ellipsis,
///   special spaces), U+3000..U+303F (CJK punctuation) and U+FEFF (byte order mark).
/// - Bytes that are not valid UTF-8 (stray continuation bytes, truncated or overlong sequences, surrogates)
///   act as separators, one byte at a time, so tokens are always valid UTF-8 and any input ends in one
///   linear pass.

#include "seqnet/detail/utf8.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seqnet::text {

/// Switches of the tokenizer; the defaults are the rules above.
struct TokenizerOptions {
  bool lowercase = true;          ///< lower-case ASCII letters
  bool strip_html_breaks = true;  ///< treat `<br />` and its variants as spaces (else `br` is a word)

  bool operator==(const TokenizerOptions& o) const {
    return lowercase == o.lowercase && strip_html_breaks == o.strip_html_breaks;
  }
  bool operator!=(const TokenizerOptions& o) const { return !(*this == o); }
};

namespace detail {

inline bool is_ascii_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

inline bool is_unicode_apostrophe(char32_t cp) { return cp == 0x2019 || cp == 0x02BC; }

inline bool is_unicode_separator(char32_t cp) {
  return (cp >= 0x80 && cp <= 0xBF) || (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) || cp == 0xFEFF;
}

/// What the character at text[pos] is, and how many bytes it takes.
enum class CharKind { Word, Apostrophe, Separator };
struct CharInfo {
  CharKind kind;
  std::size_t length;
};

inline CharInfo classify(std::string_view text, std::size_t pos) {
  const auto c = static_cast<unsigned char>(text[pos]);
  if (c < 0x80) {
    if (is_ascii_alnum(c)) return {CharKind::Word, 1};
    if (c == '\'') return {CharKind::Apostrophe, 1};
    return {CharKind::Separator, 1};
  }
  char32_t cp = 0;
  const std::size_t len = seqnet::detail::decode_utf8(text, pos, cp);
  if (len == 0) return {CharKind::Separator, 1};  // invalid byte: skip exactly one
  if (is_unicode_apostrophe(cp)) return {CharKind::Apostrophe, len};
  if (is_unicode_separator(cp)) return {CharKind::Separator, len};
  return {CharKind::Word, len};
}

/// Length of an HTML line break (`<br>`, `<br/>`, `<br />`, any case) starting at text[pos], or 0.
inline std::size_t html_break_length(std::string_view text, std::size_t pos) {
  const std::size_t n = text.size();
  std::size_t i = pos;
  if (i >= n || text[i] != '<') return 0;
  ++i;
  if (i + 1 >= n || (text[i] | 0x20) != 'b' || (text[i + 1] | 0x20) != 'r') return 0;
  i += 2;
  while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  if (i < n && text[i] == '/') ++i;
  if (i < n && text[i] == '>') return i + 1 - pos;
  return 0;
}

}  // namespace detail

/// Calls `emit(const std::string& token)` for each token of `text`, in order. The string passed is a
/// scratch buffer reused for the next token (copy it to keep it); no allocation happens per token once the
/// buffer has grown to the longest token. This is what tokenize() and Vocabulary::encode() run on.
template <typename Emit>
void for_each_token(std::string_view text, Emit&& emit, const TokenizerOptions& options = {}) {
  std::string token;
  token.reserve(32);
  const std::size_t n = text.size();
  std::size_t i = 0;
  const auto flush = [&] {
    if (!token.empty()) {
      emit(static_cast<const std::string&>(token));
      token.clear();
    }
  };
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    // ASCII fast path: most of any English review.
    if (c < 0x80 && detail::is_ascii_alnum(c)) {
      token.push_back(options.lowercase && c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A'))
                                                                : static_cast<char>(c));
      ++i;
      continue;
    }
    if (c == '<' && options.strip_html_breaks) {
      const std::size_t len = detail::html_break_length(text, i);
      if (len > 0) {
        flush();
        i += len;
        continue;
      }
    }
    const detail::CharInfo ch = detail::classify(text, i);
    switch (ch.kind) {
      case detail::CharKind::Word:
        token.append(text.data() + i, ch.length);
        break;
      case detail::CharKind::Apostrophe: {
        const std::size_t next = i + ch.length;
        if (!token.empty() && next < n && detail::classify(text, next).kind == detail::CharKind::Word) {
          token.push_back('\'');
        } else {
          flush();
        }
        break;
      }
      case detail::CharKind::Separator:
        flush();
        break;
    }
    i += ch.length;
  }
  flush();
}

/// The tokens of `text` (see the rules at the top of this header).
inline std::vector<std::string> tokenize(std::string_view text, const TokenizerOptions& options = {}) {
  std::vector<std::string> tokens;
  for_each_token(
      text, [&](const std::string& t) { tokens.push_back(t); }, options);
  return tokens;
}

}  // namespace seqnet::text
