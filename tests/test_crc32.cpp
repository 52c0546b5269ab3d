#include <catch2/catch.hpp>
#include <seqnet/detail/crc32.hpp>

#include <cstring>
#include <string>

namespace test_crc32 {

using seqnet::detail::crc32c;
using seqnet::detail::crc32c_update;

TEST_CASE("CRC-32C: standard check values", "[crc32]") {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);  // the CRC-32C catalogue's check value
  CHECK(crc32c("", 0) == 0u);
  const std::string zeros(32, '\0');
  CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);  // RFC 3720, B.4: 32 bytes of zeros
  const std::string ones(32, '\xFF');
  CHECK(crc32c(ones.data(), ones.size()) == 0x62A8AB43u);  // RFC 3720, B.4: 32 bytes of 0xFF
}

TEST_CASE("CRC-32C: incremental update equals one pass", "[crc32]") {
  const char* text = "The quick brown fox jumps over the lazy dog";
  const std::size_t n = std::strlen(text);
  for (std::size_t cut = 0; cut <= n; ++cut)
    CHECK(crc32c_update(crc32c(text, cut), text + cut, n - cut) == crc32c(text, n));
}

TEST_CASE("CRC-32C: every single-bit change changes the checksum", "[crc32]") {
  std::string s = "seqnet model file";
  const std::uint32_t base = crc32c(s.data(), s.size());
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int b = 0; b < 8; ++b) {
      s[i] = static_cast<char>(s[i] ^ (1 << b));
      CHECK(crc32c(s.data(), s.size()) != base);
      s[i] = static_cast<char>(s[i] ^ (1 << b));
    }
}

}  // namespace test_crc32
