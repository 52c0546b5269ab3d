#include <catch2/catch.hpp>
#include <seqnet/text/tokenizer.hpp>

#include <string>
#include <vector>

namespace test_tokenizer {

using seqnet::text::tokenize;
using seqnet::text::TokenizerOptions;
using Tokens = std::vector<std::string>;

TEST_CASE("tokenize: lower-cases and splits on spaces and punctuation", "[tokenizer]") {
  CHECK(tokenize("This movie WAS great!") == Tokens{"this", "movie", "was", "great"});
  CHECK(tokenize("Good,bad;ugly... (really?) \"yes\"") == Tokens{"good", "bad", "ugly", "really", "yes"});
  CHECK(tokenize("a-b_c/d\\e\tf\ng\r\nh") == Tokens{"a", "b", "c", "d", "e", "f", "g", "h"});
}

TEST_CASE("tokenize: apostrophes inside words are kept, at the edges stripped", "[tokenizer]") {
  CHECK(tokenize("Don't stop, it's OK") == Tokens{"don't", "stop", "it's", "ok"});
  CHECK(tokenize("'quoted' words' 'n rock'n'roll") == Tokens{"quoted", "words", "n", "rock'n'roll"});
  CHECK(tokenize("don''t") == Tokens{"don", "t"});
  CHECK(tokenize("'''") == Tokens{});
  // U+2019 (right single quote) is an apostrophe and comes out as ASCII '.
  CHECK(tokenize("don\xE2\x80\x99t \xE2\x80\x99quoted\xE2\x80\x99") == Tokens{"don't", "quoted"});
}

TEST_CASE("tokenize: HTML line breaks act as spaces", "[tokenizer]") {
  CHECK(tokenize("end.<br /><br />Next") == Tokens{"end", "next"});
  CHECK(tokenize("a<br/>b<br>c<BR  />d") == Tokens{"a", "b", "c", "d"});
  // Other tags are plain punctuation: their letters stay words.
  CHECK(tokenize("<i>x</i>") == Tokens{"i", "x", "i"});
  CHECK(tokenize("a<b") == Tokens{"a", "b"});
  CHECK(tokenize("<br") == Tokens{"br"});

  TokenizerOptions keep;
  keep.strip_html_breaks = false;
  CHECK(tokenize("a<br />b", keep) == Tokens{"a", "br", "b"});
}

TEST_CASE("tokenize: digits are kept and split at punctuation", "[tokenizer]") {
  CHECK(tokenize("7/10, 3.5 stars in 1999; 2nd") == Tokens{"7", "10", "3", "5", "stars", "in", "1999", "2nd"});
}

TEST_CASE("tokenize: the lowercase switch", "[tokenizer]") {
  TokenizerOptions keep_case;
  keep_case.lowercase = false;
  CHECK(tokenize("Hello WORLD", keep_case) == Tokens{"Hello", "WORLD"});
}

TEST_CASE("tokenize: empty and punctuation-only texts give no tokens", "[tokenizer]") {
  CHECK(tokenize("").empty());
  CHECK(tokenize("   \t\n").empty());
  CHECK(tokenize("!?.,;:-()[]{}<>\"'/").empty());
  CHECK(tokenize("<br /><br />").empty());
}

TEST_CASE("tokenize: non-ASCII letters stay in words, Unicode punctuation separates", "[tokenizer]") {
  // "Café" with e-acute: the UTF-8 bytes are kept, not lower-cased beyond ASCII.
  CHECK(tokenize("Caf\xC3\xA9 \xC3\x89T\xC3\x89") == Tokens{"caf\xC3\xA9", "\xC3\x89t\xC3\x89"});
  // Em dash, ellipsis, curly double quotes and NBSP separate.
  CHECK(tokenize("good\xE2\x80\x94great\xE2\x80\xA6\xE2\x80\x9Cyes\xE2\x80\x9D no\xC2\xA0way") ==
        Tokens{"good", "great", "yes", "no", "way"});
}

TEST_CASE("tokenize: invalid UTF-8 bytes separate words and are dropped", "[tokenizer]") {
  CHECK(tokenize("ab\xFF"
                 "cd") == Tokens{"ab", "cd"});
  CHECK(tokenize("ab\x80\x80"
                 "cd") == Tokens{"ab", "cd"});      // stray continuation bytes
  CHECK(tokenize("ab\xC3") == Tokens{"ab"});        // truncated at the end
  CHECK(tokenize("ab\xC3z") == Tokens{"ab", "z"});  // lead byte without continuation
  CHECK(tokenize("\xC0\xAF"
                 "x") == Tokens{"x"});  // overlong '/'
  CHECK(tokenize("a\xED\xA0\x80"
                 "b") == Tokens{"a", "b"});  // UTF-16 surrogate
  CHECK(tokenize("a\xF4\x90\x80\x80"
                 "b") == Tokens{"a", "b"});  // above U+10FFFF
  CHECK(tokenize("a\xF0\x9F\x98\x80"
                 "b") == Tokens{"a\xF0\x9F\x98\x80"
                                "b"});       // valid 4-byte (emoji) kept
  CHECK(tokenize("x'\xFF") == Tokens{"x"});  // apostrophe before an invalid byte
}

TEST_CASE("tokenize: NUL bytes separate words", "[tokenizer]") {
  const std::string text("one\0two\0\0three", 14);
  CHECK(tokenize(text) == Tokens{"one", "two", "three"});
  CHECK(tokenize(std::string(100, '\0')).empty());
}

TEST_CASE("tokenize: very long inputs", "[tokenizer]") {
  // One word of a million letters.
  const std::string word(1000000, 'A');
  const Tokens one = tokenize(word);
  REQUIRE(one.size() == 1);
  CHECK(one[0] == std::string(1000000, 'a'));
  // Half a million one-letter words.
  std::string many;
  for (int i = 0; i < 500000; ++i) many += "x ";
  const Tokens lots = tokenize(many);
  CHECK(lots.size() == 500000);
  CHECK(lots.back() == "x");
  // Every byte value, repeated: terminates and yields only valid tokens.
  std::string all;
  for (int r = 0; r < 1000; ++r)
    for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const Tokens mixed = tokenize(all);
  CHECK(!mixed.empty());
  for (const auto& t : mixed) CHECK(!t.empty());
}

TEST_CASE("tokenize: for_each_token sees the same tokens as tokenize", "[tokenizer]") {
  const std::string text = "It's a <br />GREAT film, 10/10!";
  Tokens seen;
  seqnet::text::for_each_token(text, [&](const std::string& t) { seen.push_back(t); });
  CHECK(seen == tokenize(text));
  CHECK(seen == Tokens{"it's", "a", "great", "film", "10", "10"});
}

}  // namespace test_tokenizer
