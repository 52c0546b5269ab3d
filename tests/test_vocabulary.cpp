#include <catch2/catch.hpp>
#include <seqnet/text/vocabulary.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace test_vocabulary {

using namespace seqnet;
using namespace seqnet::text;
using Ids = std::vector<std::int32_t>;

namespace {

// Counts: the 4, cat 2, then one each: a ate cat's dog food mat on sat (ties in byte order).
const std::vector<std::string> kTexts = {"the cat sat on the mat", "The dog ate the cat's food", "a cat"};

VocabularyOptions keras(Index num_words = 0) {
  VocabularyOptions o;
  o.convention = Convention::KerasImdb;
  o.num_words = num_words;
  return o;
}

VocabularyOptions tv(Index max_tokens = 0) {
  VocabularyOptions o;
  o.convention = Convention::TextVectorization;
  o.max_tokens = max_tokens;
  return o;
}

}  // namespace

TEST_CASE("Vocabulary: most frequent first, ties in byte order", "[vocabulary]") {
  const Vocabulary v = Vocabulary::build(kTexts, keras());
  CHECK(v.words() == std::vector<std::string>{"the", "cat", "a", "ate", "cat's", "dog", "food", "mat", "on", "sat"});
  CHECK(v.size() == 13);
  CHECK(v.num_words() == 10);

  // Ties between upper- and lower-case words (tokenizer keeps case) follow byte order: 'B' < 'b'.
  VocabularyOptions o = keras();
  o.tokenizer.lowercase = false;
  const Vocabulary cased = Vocabulary::build({"b B zeta alpha"}, o);
  CHECK(cased.words() == std::vector<std::string>{"B", "alpha", "b", "zeta"});
}

TEST_CASE("Vocabulary: KerasImdb ids by hand (0 pad, 1 start, 2 OOV, words from 3)", "[vocabulary]") {
  const Vocabulary v = Vocabulary::build(kTexts, keras());
  CHECK(v.start_id() == 1);
  CHECK(v.oov_id() == 2);
  CHECK(v.first_word_id() == 3);
  CHECK(v.id("the") == 3);
  CHECK(v.id("cat") == 4);
  CHECK(v.id("a") == 5);
  CHECK(v.id("sat") == 12);
  CHECK(v.id("zebra") == 2);
  CHECK(v.word(0) == "");
  CHECK(v.word(1) == "[START]");
  CHECK(v.word(2) == "[UNK]");
  CHECK(v.word(7) == "cat's");
  CHECK_THROWS_AS(v.word(13), InvalidArgument);
  CHECK_THROWS_AS(v.word(-1), InvalidArgument);
  CHECK(v.encode("The cat ate a fish!") == Ids{1, 3, 4, 6, 5, 2});
  CHECK(v.encode(std::vector<std::string>{"the", "fish"}) == Ids{1, 3, 2});
  CHECK(v.encode("") == Ids{1});
}

TEST_CASE("Vocabulary: num_words keeps only ids below it", "[vocabulary]") {
  const Vocabulary v = Vocabulary::build(kTexts, keras(6));
  CHECK(v.size() == 6);
  CHECK(v.words() == std::vector<std::string>{"the", "cat", "a"});
  CHECK(v.encode("The cat ate a fish") == Ids{1, 3, 4, 2, 5, 2});  // "ate" (id 6) is cut
  CHECK_FALSE(v.contains("ate"));
  // A limit above the vocabulary keeps everything.
  CHECK(Vocabulary::build(kTexts, keras(1000)).size() == 13);
}

TEST_CASE("Vocabulary: TextVectorization ids by hand (0 pad, 1 OOV, words from 2, max_tokens)", "[vocabulary]") {
  const Vocabulary full = Vocabulary::build(kTexts, tv());
  CHECK(full.start_id() == -1);
  CHECK(full.oov_id() == 1);
  CHECK(full.id("the") == 2);
  CHECK(full.size() == 12);
  CHECK(full.word(1) == "[UNK]");
  CHECK(full.encode("The cat ate a fish") == Ids{2, 3, 5, 4, 1});

  const Vocabulary cut = Vocabulary::build(kTexts, tv(5));
  CHECK(cut.size() == 5);
  CHECK(cut.encode("The cat ate a fish") == Ids{2, 3, 1, 4, 1});
}

TEST_CASE("Vocabulary: options that make no sense are refused", "[vocabulary]") {
  CHECK_THROWS_AS(Vocabulary::build(kTexts, keras(3)), InvalidArgument);
  CHECK_THROWS_AS(Vocabulary::build(kTexts, keras(-1)), InvalidArgument);
  CHECK_THROWS_AS(Vocabulary::build(kTexts, tv(2)), InvalidArgument);
  VocabularyOptions mixed = keras();
  mixed.max_tokens = 100;
  CHECK_THROWS_AS(Vocabulary::build(kTexts, mixed), InvalidArgument);
  CHECK_THROWS_AS(Vocabulary::from_ranked_words({"a", "b", "a"}), InvalidArgument);
  CHECK_THROWS_AS(Vocabulary::from_ranked_words({"a", ""}), InvalidArgument);
}

TEST_CASE("Vocabulary: encode_all on threads equals encode in a loop", "[vocabulary]") {
  std::vector<std::string> texts;
  for (int i = 0; i < 500; ++i) texts.push_back(kTexts[static_cast<std::size_t>(i % 3)] + " w" + std::to_string(i % 7));
  const Vocabulary v = Vocabulary::build(texts, keras(8));
  const auto par = v.encode_all(texts, 3);
  REQUIRE(par.size() == texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) CHECK(par[i] == v.encode(texts[i]));
}

TEST_CASE("Vocabulary: serialize round trip keeps ids and conventions", "[vocabulary]") {
  for (const VocabularyOptions& o : {keras(), keras(6), tv(), tv(5)}) {
    const Vocabulary v = Vocabulary::build(kTexts, o);
    const Vocabulary back = Vocabulary::deserialize(v.serialize());
    CHECK(back.convention() == v.convention());
    CHECK(back.limit() == v.limit());
    CHECK(back.words() == v.words());
    CHECK(back.encode("the cat ate a fish") == v.encode("the cat ate a fish"));
    CHECK(back.serialize() == v.serialize());
  }
  VocabularyOptions o = tv();
  o.tokenizer.lowercase = false;
  o.tokenizer.strip_html_breaks = false;
  const Vocabulary back = Vocabulary::deserialize(Vocabulary::build({"A a<br />"}, o).serialize());
  CHECK(back.options().tokenizer == o.tokenizer);
  CHECK(back.words() == std::vector<std::string>{"A", "a", "br"});
  // An empty vocabulary too.
  CHECK(Vocabulary::deserialize(Vocabulary().serialize()).size() == 3);
}

TEST_CASE("Vocabulary: save and load through a file", "[vocabulary]") {
  const auto path = (std::filesystem::temp_directory_path() / "seqnet_test_vocabulary.bin").string();
  const Vocabulary v = Vocabulary::build(kTexts, keras(9));
  v.save(path);
  const Vocabulary back = Vocabulary::load(path);
  CHECK(back.words() == v.words());
  std::remove(path.c_str());
  CHECK_THROWS_AS(Vocabulary::load(path), IoError);
  CHECK_THROWS_AS(v.save("/nonexistent-folder/seqnet/vocab.bin"), IoError);
}

TEST_CASE("Vocabulary: every truncation of the bytes is a FormatError", "[vocabulary][corrupt]") {
  const std::string bytes = Vocabulary::build(kTexts, keras()).serialize();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("truncated to " << n << " bytes");
    CHECK_THROWS_AS(Vocabulary::deserialize(std::string_view(bytes).substr(0, n)), FormatError);
  }
  CHECK_THROWS_AS(Vocabulary::deserialize(bytes + "x"), FormatError);
}

TEST_CASE("Vocabulary: every flipped byte is a FormatError", "[vocabulary][corrupt]") {
  const std::string bytes = Vocabulary::build(kTexts, tv(8)).serialize();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xFF}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ mask);
      INFO("byte " << i << " xor " << int(mask));
      CHECK_THROWS_AS(Vocabulary::deserialize(bad), FormatError);
    }
  }
}

TEST_CASE("Vocabulary: huge lengths, wrong magic and newer versions are named", "[vocabulary][corrupt]") {
  const std::string bytes = Vocabulary::build(kTexts, keras()).serialize();
  const auto message = [](const std::string& b) {
    try {
      Vocabulary::deserialize(b);
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // Layout: magic 0-7, version 8-11, convention 12, flags 13, reserved 14-15, limit 16-23, count 24-31,
  // then the first word's length at 32.
  std::string huge_count = bytes;
  for (int k = 24; k < 32; ++k) huge_count[static_cast<std::size_t>(k)] = '\xFF';
  CHECK_THAT(message(huge_count), Catch::Contains("word count"));

  std::string huge_word = bytes;
  for (int k = 32; k < 36; ++k) huge_word[static_cast<std::size_t>(k)] = '\xFF';
  CHECK_THAT(message(huge_word), Catch::Contains("claims 4294967295 bytes"));

  std::string magic = bytes;
  magic[0] = 'X';
  CHECK_THAT(message(magic), Catch::Contains("wrong magic"));

  std::string version = bytes;
  version[8] = 2;
  CHECK_THAT(message(version), Catch::Contains("version 2"));

  std::string checksum = bytes;
  checksum[37] =
      static_cast<char>(checksum[37] ^ 0x20);  // inside the first word ("the", 36-38): only the checksum notices
  CHECK_THAT(message(checksum), Catch::Contains("checksum"));

  CHECK_THAT(message(""), Catch::Contains("wrong magic"));

  // A file that is not a vocabulary names the file.
  const auto path = (std::filesystem::temp_directory_path() / "seqnet_test_vocabulary_bad.bin").string();
  {
    std::ofstream f(path, std::ios::binary);
    f << "SQNVOCAB";
  }
  try {
    Vocabulary::load(path);
    FAIL("no error");
  } catch (const FormatError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains(path));
  }
  std::remove(path.c_str());
}

}  // namespace test_vocabulary
