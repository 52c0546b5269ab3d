#pragma once
/// \file
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of seqnet model files.
/// Table-driven, one byte at a time; the table is built at compile time and lives in a function-local
/// constexpr static, so there is no mutable global state. Check value: crc32c("123456789") = 0xE3069283.

#include <array>
#include <cstddef>
#include <cstdint>

namespace seqnet {
namespace detail {

inline constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : (c >> 1);
    table[i] = c;
  }
  return table;
}

/// Continues a CRC-32C over n more bytes. Start with crc = 0; crc32c_update(crc32c_update(0, a), b) equals
/// the CRC of a followed by b.
inline std::uint32_t crc32c_update(std::uint32_t crc, const void* data, std::size_t n) {
  static constexpr std::array<std::uint32_t, 256> table = make_crc32c_table();
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = ~crc;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
  return ~c;
}

/// CRC-32C of n bytes.
inline std::uint32_t crc32c(const void* data, std::size_t n) { return crc32c_update(0, data, n); }

}  // namespace detail
}  // namespace seqnet
