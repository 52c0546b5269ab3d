#include <catch2/catch.hpp>
#include <seqnet/text/imdb.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

namespace test_imdb {

using namespace seqnet;
using namespace seqnet::text;
namespace fs = std::filesystem;

namespace {

// A small aclImdb-like tree in a fresh temporary folder, removed at the end of the test.
struct FakeImdb {
  fs::path root;
  explicit FakeImdb(const std::string& tag) {
    root = fs::temp_directory_path() / ("seqnet_test_imdb_" + std::to_string(::getpid()) + "_" + tag) / "aclImdb";
    fs::remove_all(root.parent_path());
    write("train/neg/3_4.txt", "Bad.");
    write("train/neg/10_1.txt", "Awful<br />film");
    write("train/neg/2_2.txt", "meh");
    write("train/pos/1_10.txt", "Great!");
    write("train/pos/0_7.txt", "good");
    write("test/neg/5_3.txt", "boring");
    write("test/pos/6_8.txt", "fun");
  }
  ~FakeImdb() {
    std::error_code ec;
    fs::remove_all(root.parent_path(), ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    const fs::path p = root / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  std::string dir() const { return root.string(); }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("read_imdb: neg then pos, each sorted by numeric id, labels and ratings from the layout", "[imdb]") {
  FakeImdb data("order");
  const ImdbSplit s = read_imdb(data.dir(), ImdbSubset::Train);
  REQUIRE(s.size() == 5);
  CHECK(s.texts == std::vector<std::string>{"meh", "Bad.", "Awful<br />film", "good", "Great!"});
  CHECK(s.labels == std::vector<std::int32_t>{0, 0, 0, 1, 1});
  CHECK(s.ratings == std::vector<std::int32_t>{2, 4, 1, 7, 10});
  CHECK(fs::path(s.files[2]).filename() == "10_1.txt");

  const ImdbSplit t = read_imdb(data.dir(), "test");
  CHECK(t.texts == std::vector<std::string>{"boring", "fun"});
  CHECK(t.labels == std::vector<std::int32_t>{0, 1});
}

TEST_CASE("read_imdb: threads and max_per_label", "[imdb]") {
  FakeImdb data("threads");
  for (int i = 0; i < 300; ++i) {
    data.write("train/neg/" + std::to_string(100 + i) + "_3.txt", "neg " + std::to_string(i));
    data.write("train/pos/" + std::to_string(100 + i) + "_9.txt", "pos " + std::to_string(i));
  }
  ImdbOptions one, four;
  one.threads = 1;
  four.threads = 4;
  const ImdbSplit a = read_imdb(data.dir(), ImdbSubset::Train, one);
  const ImdbSplit b = read_imdb(data.dir(), ImdbSubset::Train, four);
  CHECK(a.size() == 605);
  CHECK(a.texts == b.texts);
  CHECK(a.ratings == b.ratings);

  ImdbOptions few;
  few.max_per_label = 2;
  const ImdbSplit c = read_imdb(data.dir(), ImdbSubset::Train, few);
  CHECK(c.texts == std::vector<std::string>{"meh", "Bad.", "good", "Great!"});
  few.max_per_label = -1;
  CHECK_THROWS_AS(read_imdb(data.dir(), ImdbSubset::Train, few), InvalidArgument);
}

TEST_CASE("read_imdb: hidden files and sub-folders are ignored", "[imdb]") {
  FakeImdb data("hidden");
  data.write("train/pos/.DS_Store", "x");
  fs::create_directories(data.root / "train/pos/extra");
  CHECK(read_imdb(data.dir(), ImdbSubset::Train).size() == 5);
}

TEST_CASE("read_imdb: a missing folder is an IoError naming it", "[imdb]") {
  FakeImdb data("missing");
  fs::remove_all(data.root / "train/pos");
  const std::string msg = error_of([&] { read_imdb(data.dir(), ImdbSubset::Train); });
  CHECK_THAT(msg, Catch::Contains((data.root / "train" / "pos").string()));
  CHECK_THROWS_AS(read_imdb(data.dir(), ImdbSubset::Train), IoError);
  CHECK_THROWS_AS(read_imdb((data.root / "nowhere").string(), ImdbSubset::Test), IoError);
  CHECK_THROWS_AS(read_imdb("", ImdbSubset::Test), IoError);
}

TEST_CASE("read_imdb: an empty folder or an empty file is an IoError naming it", "[imdb]") {
  FakeImdb data("empty");
  data.write("train/neg/7_2.txt", "");
  const std::string msg = error_of([&] { read_imdb(data.dir(), ImdbSubset::Train); });
  CHECK_THAT(msg, Catch::Contains("7_2.txt") && Catch::Contains("empty"));
  CHECK_THROWS_AS(read_imdb(data.dir(), ImdbSubset::Train), IoError);

  fs::remove(data.root / "test/pos/6_8.txt");
  const std::string folder = error_of([&] { read_imdb(data.dir(), ImdbSubset::Test); });
  CHECK_THAT(folder, Catch::Contains("holds no reviews"));
}

TEST_CASE("read_imdb: a file name not matching <id>_<rating>.txt is a FormatError naming it", "[imdb]") {
  for (const std::string bad :
       {"notes.txt", "12.txt", "12_.txt", "_3.txt", "12_3.md", "1x_3.txt", "12_11.txt", "12_0.txt"}) {
    FakeImdb data("name");
    data.write("test/neg/" + bad, "text");
    INFO(bad);
    CHECK_THROWS_AS(read_imdb(data.dir(), ImdbSubset::Test), FormatError);
    CHECK_THAT(error_of([&] { read_imdb(data.dir(), ImdbSubset::Test); }), Catch::Contains(bad));
  }
}

TEST_CASE("read_imdb: an unknown subset name is refused", "[imdb]") {
  CHECK_THROWS_AS(read_imdb("/tmp", "dev"), InvalidArgument);
}

TEST_CASE("imdb_dir_from_env reads SEQNET_IMDB_DIR", "[imdb]") {
  ::setenv("SEQNET_IMDB_DIR", "/some/where/aclImdb", 1);
  CHECK(imdb_dir_from_env() == "/some/where/aclImdb");
  ::unsetenv("SEQNET_IMDB_DIR");
  CHECK(imdb_dir_from_env().empty());
}

}  // namespace test_imdb
