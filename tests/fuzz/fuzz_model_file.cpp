// Any bytes -> deserialize_model<float>: either a seqnet::Error or a model that serializes to bytes which
// load again and serialize to the same bytes. A model with a small input also runs predict(). Any other
// exception, a crash, a sanitizer report or libFuzzer's out-of-memory limit is a finding.
// Each input is tried as it is and, so that mutations get past the checksum into the section, layer and
// weight parsers, once more with its length field and CRC-32C trailer rewritten to match.
#include <seqnet/core/error.hpp>
#include <seqnet/io/model_file.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(std::string_view bytes) {
  try {
    seqnet::ModelExtras extras;
    seqnet::Sequential<float> model = seqnet::deserialize_model<float>(bytes, &extras);
    const std::string again = seqnet::serialize_model(model, extras);
    seqnet::ModelExtras extras2;
    const seqnet::Sequential<float> reloaded = seqnet::deserialize_model<float>(again, &extras2);
    if (seqnet::serialize_model(reloaded, extras2) != again) std::abort();
    const seqnet::Shape& in = model.input_shape();
    if (in.rows_per_sample() * in.columns() <= 4096) {
      std::vector<seqnet::Index> shape{2};
      if (in.steps > 0) shape.push_back(in.steps);
      if (in.encoding == seqnet::Encoding::Dense) shape.push_back(in.features);
      (void)model.predict(seqnet::Tensor<float>(shape, 0.0f));
    }
  } catch (const seqnet::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check(bytes);
  if (size >= seqnet::detail::kModelHeaderBytes + seqnet::detail::kModelTrailerBytes) {
    std::string fixed(bytes);
    const std::uint64_t n = fixed.size();
    for (int i = 0; i < 8; ++i) fixed[24 + i] = static_cast<char>((n >> (8 * i)) & 0xFF);
    const std::uint32_t crc = seqnet::detail::crc32c(fixed.data(), fixed.size() - 4);
    for (int i = 0; i < 4; ++i) fixed[fixed.size() - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
    check(fixed);
  }
  return 0;
}
