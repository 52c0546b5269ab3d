// Any bytes -> Vocabulary::deserialize: either a FormatError or a vocabulary that serializes back to the
// same bytes. Any other exception, a crash or a sanitizer report is a finding.
#include <seqnet/core/error.hpp>
#include <seqnet/text/vocabulary.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto vocab = seqnet::text::Vocabulary::deserialize(bytes);
    if (vocab.serialize() != bytes) std::abort();
    (void)vocab.encode("a fuzzed vocabulary encodes this text");
  } catch (const seqnet::FormatError&) {
  }
  return 0;
}
