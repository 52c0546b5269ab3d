#pragma once
/// \file
/// Strict UTF-8 decoding of one code point, for the tokenizer. Internal.

#include <cstddef>
#include <string_view>

namespace seqnet::detail {

/// Decodes the UTF-8 sequence starting at text[pos] into `cp` and returns its length in bytes (1 to 4),
/// or 0 when the bytes there are not a valid sequence (stray continuation byte, truncated sequence,
/// overlong form, surrogate, or a value above U+10FFFF). Never reads past the end of `text`.
inline std::size_t decode_utf8(std::string_view text, std::size_t pos, char32_t& cp) {
  const std::size_t n = text.size();
  if (pos >= n) return 0;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(pos);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len;
  char32_t value;
  char32_t min_value;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    value = b0 & 0x1Fu;
    min_value = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    value = b0 & 0x0Fu;
    min_value = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    value = b0 & 0x07u;
    min_value = 0x10000;
  } else {
    return 0;  // continuation byte, 0xC0/0xC1 (always overlong) or 0xF5..0xFF
  }
  if (n - pos < len) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const unsigned char b = byte(pos + k);
    if ((b & 0xC0u) != 0x80u) return 0;
    value = (value << 6) | (b & 0x3Fu);
  }
  if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  cp = value;
  return len;
}

}  // namespace seqnet::detail
