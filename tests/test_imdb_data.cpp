// Integration test on the real aclImdb data, found through SEQNET_IMDB_DIR (examples/prepare_imdb.sh
// prepares it). Without the data each test prints "SEQNET_SKIPPED: <reason>" as a Catch warning and ctest
// reports it as skipped (SKIP_REGULAR_EXPRESSION set in tests/imdb_data_skip.cmake).
#include <catch2/catch.hpp>
#include <seqnet/text/imdb.hpp>
#include <seqnet/text/sequences.hpp>
#include <seqnet/text/vocabulary.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace test_imdb_data {

using namespace seqnet;
using namespace seqnet::text;

namespace {

// The aclImdb folder, or "" after warning why the test cannot run.
std::string data_dir_or_skip() {
  const std::string dir = imdb_dir_from_env();
  std::error_code ec;
  if (dir.empty()) {
    WARN("SEQNET_SKIPPED: SEQNET_IMDB_DIR is not set (run examples/prepare_imdb.sh and export the line it prints)");
    return "";
  }
  if (!std::filesystem::is_directory(std::filesystem::path(dir) / "train", ec)) {
    WARN("SEQNET_SKIPPED: SEQNET_IMDB_DIR='" << dir << "' holds no train folder (run examples/prepare_imdb.sh)");
    return "";
  }
  return dir;
}

}  // namespace

TEST_CASE("IMDB data: 25,000 train and 25,000 test reviews, 12,500 of each label", "[imdb][data]") {
  const std::string dir = data_dir_or_skip();
  if (dir.empty()) return;
  for (const ImdbSubset subset : {ImdbSubset::Train, ImdbSubset::Test}) {
    const ImdbSplit s = read_imdb(dir, subset);
    REQUIRE(s.size() == 25000);
    CHECK(std::count(s.labels.begin(), s.labels.end(), 0) == 12500);
    CHECK(std::count(s.labels.begin(), s.labels.end(), 1) == 12500);
    // Documented order: neg first; neg ratings are 1-4, pos ratings 7-10.
    CHECK(s.labels.front() == 0);
    CHECK(s.labels.back() == 1);
    for (std::size_t i = 0; i < s.size(); ++i) {
      const bool ok =
          s.labels[i] == 1 ? (s.ratings[i] >= 7 && s.ratings[i] <= 10) : (s.ratings[i] >= 1 && s.ratings[i] <= 4);
      if (!ok) FAIL_CHECK(s.files[i] << " has rating " << s.ratings[i] << " for label " << s.labels[i]);
      if (s.texts[i].empty()) FAIL_CHECK(s.files[i] << " is empty");
    }
  }
}

TEST_CASE("IMDB data: a known review is encoded as expected", "[imdb][data]") {
  const std::string dir = data_dir_or_skip();
  if (dir.empty()) return;
  const ImdbSplit train = read_imdb(dir, ImdbSubset::Train);
  REQUIRE(train.size() == 25000);
  // The first pos review in the documented order is train/pos/0_9.txt.
  const std::string& review = train.texts[12500];
  CHECK(std::filesystem::path(train.files[12500]).filename() == "0_9.txt");
  CHECK(train.ratings[12500] == 9);
  REQUIRE(review.rfind("Bromwell High is a cartoon comedy.", 0) == 0);

  VocabularyOptions opt;
  opt.num_words = 10000;
  const Vocabulary vocab = Vocabulary::build(train.texts, opt);
  CHECK(vocab.size() == 10000);
  // The most frequent words of the training reviews, as in Keras' IMDB word index.
  CHECK(std::vector<std::string>(vocab.words().begin(), vocab.words().begin() + 6) ==
        std::vector<std::string>{"the", "and", "a", "of", "to", "is"});
  const std::vector<std::int32_t> ids = vocab.encode(review);
  // Start id, then "bromwell" (rare: out of vocabulary), "high", "is" (6th word: 3 + 5), "a" (3rd: 3 + 2),
  // "cartoon", "comedy" (ids pinned from this pipeline).
  const std::vector<std::int32_t> head(ids.begin(), ids.begin() + 7);
  CHECK(head == std::vector<std::int32_t>{1, 2, vocab.id("high"), 8, 5, vocab.id("cartoon"), vocab.id("comedy")});
  CHECK(head == std::vector<std::int32_t>{1, 2, 309, 8, 5, 1072, 210});
  CHECK(ids.size() == 1 + tokenize(review).size());

  const LengthStats st = length_stats(vocab.encode_all(train.texts));
  INFO("mean " << st.mean << ", median " << st.median);
  CHECK(st.mean > 200.0);
  CHECK(st.mean < 280.0);
}

}  // namespace test_imdb_data
