// Any bytes -> tokenize and encode: must not crash, read out of bounds or loop; every token is non-empty
// valid UTF-8 without separators, and encoding gives one id per token, each in range.
#include <seqnet/detail/utf8.hpp>
#include <seqnet/text/tokenizer.hpp>
#include <seqnet/text/vocabulary.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool valid_token(const std::string& t) {
  if (t.empty() || t.front() == '\'' || t.back() == '\'') return false;
  for (std::size_t i = 0; i < t.size();) {
    char32_t cp = 0;
    const std::size_t len = seqnet::detail::decode_utf8(t, i, cp);
    if (len == 0) return false;
    if (len == 1 && !(seqnet::text::detail::is_ascii_alnum(static_cast<unsigned char>(cp)) || cp == '\'')) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The first byte picks the tokenizer switches, so both settings are explored.
  seqnet::text::TokenizerOptions opt;
  if (size > 0) {
    opt.lowercase = (data[0] & 1u) != 0;
    opt.strip_html_breaks = (data[0] & 2u) != 0;
  }
  const std::vector<std::string> tokens = seqnet::text::tokenize(text, opt);
  for (const auto& t : tokens) check(valid_token(t));

  // A vocabulary from the text itself, cut small so that both known and unknown words are encoded.
  seqnet::text::VocabularyOptions vopt;
  vopt.convention =
      (size > 1 && (data[1] & 1u)) ? seqnet::text::Convention::TextVectorization : seqnet::text::Convention::KerasImdb;
  (vopt.convention == seqnet::text::Convention::KerasImdb ? vopt.num_words : vopt.max_tokens) = 8;
  vopt.tokenizer = opt;
  const auto vocab = seqnet::text::Vocabulary::build({std::string(text)}, vopt);
  const std::vector<std::int32_t> ids = vocab.encode(text);
  check(ids.size() == tokens.size() + (vocab.start_id() >= 0 ? 1 : 0));
  for (std::int32_t id : ids) check(id > 0 && id < vocab.size());
  check(seqnet::text::Vocabulary::deserialize(vocab.serialize()).words() == vocab.words());
  return 0;
}
