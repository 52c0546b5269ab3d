#include <catch2/catch.hpp>
#include <seqnet/text/sequences.hpp>

#include <cstdint>
#include <vector>

namespace test_sequences {

using namespace seqnet;
using namespace seqnet::text;
using Seqs = std::vector<std::vector<std::int32_t>>;

namespace {
const Seqs kSeqs = {{1, 2, 3}, {4, 5, 6, 7, 8}, {9}};

std::vector<std::int32_t> padded(Padding p, Truncating t, Index maxlen = 4, std::int32_t value = 0) {
  PadOptions o;
  o.maxlen = maxlen;
  o.padding = p;
  o.truncating = t;
  o.value = value;
  const Tensor<std::int32_t> x = pad_sequences(kSeqs, o);
  REQUIRE(x.shape() == std::vector<Index>{3, maxlen});
  return x.values();
}
}  // namespace

TEST_CASE("pad_sequences: pre padding and pre truncation (Keras defaults)", "[sequences]") {
  CHECK(padded(Padding::Pre, Truncating::Pre) ==
        std::vector<std::int32_t>{0, 1, 2, 3, /**/ 5, 6, 7, 8, /**/ 0, 0, 0, 9});
  const Tensor<std::int32_t> def = pad_sequences(kSeqs, PadOptions{4});
  CHECK(def.values() == padded(Padding::Pre, Truncating::Pre));
}

TEST_CASE("pad_sequences: post padding and post truncation", "[sequences]") {
  CHECK(padded(Padding::Post, Truncating::Post) ==
        std::vector<std::int32_t>{1, 2, 3, 0, /**/ 4, 5, 6, 7, /**/ 9, 0, 0, 0});
}

TEST_CASE("pad_sequences: mixed padding and truncation sides", "[sequences]") {
  CHECK(padded(Padding::Pre, Truncating::Post) ==
        std::vector<std::int32_t>{0, 1, 2, 3, /**/ 4, 5, 6, 7, /**/ 0, 0, 0, 9});
  CHECK(padded(Padding::Post, Truncating::Pre) ==
        std::vector<std::int32_t>{1, 2, 3, 0, /**/ 5, 6, 7, 8, /**/ 9, 0, 0, 0});
}

TEST_CASE("pad_sequences: maxlen 0 uses the longest, value fills", "[sequences]") {
  CHECK(padded(Padding::Pre, Truncating::Pre, 5, -1) ==
        std::vector<std::int32_t>{-1, -1, 1, 2, 3, /**/ 4, 5, 6, 7, 8, /**/ -1, -1, -1, -1, 9});
  const Tensor<std::int32_t> x = pad_sequences(kSeqs);
  CHECK(x.shape() == std::vector<Index>{3, 5});
  CHECK(x(0, 0) == 0);
  CHECK(x(0, 2) == 1);
}

TEST_CASE("pad_sequences: edge cases", "[sequences]") {
  // Cut to one step: the last id with Pre truncation, the first with Post.
  CHECK(padded(Padding::Pre, Truncating::Pre, 1) == std::vector<std::int32_t>{3, 8, 9});
  CHECK(padded(Padding::Pre, Truncating::Post, 1) == std::vector<std::int32_t>{1, 4, 9});
  // Empty sequences become all padding; an empty list gives (0, maxlen).
  const Tensor<std::int32_t> e = pad_sequences(Seqs{{}, {7}}, PadOptions{2});
  CHECK(e.values() == std::vector<std::int32_t>{0, 0, 0, 7});
  CHECK(pad_sequences(Seqs{}, PadOptions{3}).shape() == std::vector<Index>{0, 3});
  CHECK(pad_sequences(Seqs{}).shape() == std::vector<Index>{0, 0});
  CHECK_THROWS_AS(pad_sequences(kSeqs, PadOptions{-1}), InvalidArgument);
}

TEST_CASE("to_categorical: id k becomes e_k", "[sequences]") {
  const Tensor<std::int32_t> ids({3}, std::vector<std::int32_t>{0, 2, 1});
  const Tensor<float> y = to_categorical<float>(ids, 3);
  CHECK(y.shape() == std::vector<Index>{3, 3});
  CHECK(y.values() == std::vector<float>{1, 0, 0, /**/ 0, 0, 1, /**/ 0, 1, 0});

  // (samples, steps) ids -> (samples, steps, classes); a trailing axis of 1 is dropped as in Keras.
  const Tensor<std::int32_t> seq({2, 2}, std::vector<std::int32_t>{1, 0, 0, 2});
  const Tensor<double> z = to_categorical<double>(seq, 3);
  CHECK(z.shape() == std::vector<Index>{2, 2, 3});
  CHECK(z(0, 0, 1) == 1.0);
  CHECK(z(1, 1, 2) == 1.0);
  CHECK(z(0, 1, 0) == 1.0);
  double sum = 0;
  for (double v : z.values()) sum += v;
  CHECK(sum == 4.0);
  const Tensor<std::int32_t> col({2, 1}, std::vector<std::int32_t>{1, 0});
  CHECK(to_categorical<float>(col, 2).shape() == std::vector<Index>{2, 2});
  // num_classes 0 infers max + 1.
  CHECK(to_categorical<float>(ids).shape() == std::vector<Index>{3, 3});
}

TEST_CASE("to_categorical: ids outside 0 .. num_classes - 1 are refused", "[sequences]") {
  CHECK_THROWS_AS(to_categorical<float>(Tensor<std::int32_t>({2}, std::vector<std::int32_t>{0, 3}), 3),
                  InvalidArgument);
  CHECK_THROWS_AS(to_categorical<float>(Tensor<std::int32_t>({1}, std::vector<std::int32_t>{-1}), 3), InvalidArgument);
  CHECK_THROWS_AS(to_categorical<float>(Tensor<std::int32_t>({1}, std::vector<std::int32_t>{0}), -2), InvalidArgument);
}

TEST_CASE("length_stats: mean and median by hand", "[sequences]") {
  const LengthStats odd = length_stats(kSeqs);  // lengths 3, 5, 1
  CHECK(odd.count == 3);
  CHECK(odd.min == 1);
  CHECK(odd.max == 5);
  CHECK(odd.mean == Approx(3.0));
  CHECK(odd.median == 3.0);
  const LengthStats even = length_stats(Seqs{{1}, {1, 2}, {1, 2, 3}, std::vector<std::int32_t>(10, 1)});
  CHECK(even.mean == Approx(4.0));
  CHECK(even.median == 2.5);
  CHECK(length_stats(Seqs{}).count == 0);
}

}  // namespace test_sequences
