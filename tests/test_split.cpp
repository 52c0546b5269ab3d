#include <catch2/catch.hpp>
#include <seqnet/text/split.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace test_split {

using namespace seqnet;
using namespace seqnet::text;

namespace {
std::vector<Index> sorted_union(const SplitIndices& s) {
  std::vector<Index> all = s.train;
  all.insert(all.end(), s.validation.begin(), s.validation.end());
  std::sort(all.begin(), all.end());
  return all;
}
}  // namespace

TEST_CASE("split: sizes follow the fraction (20% by default)", "[split]") {
  Rng rng(42);
  const SplitIndices s = train_validation_split(25000, rng);
  CHECK(s.train.size() == 20000);
  CHECK(s.validation.size() == 5000);
  Rng rng2(1);
  SplitOptions o;
  o.validation_fraction = 0.25;
  const SplitIndices t = train_validation_split(10, rng2, o);  // round(2.5) = 3
  CHECK(t.train.size() == 7);
  CHECK(t.validation.size() == 3);
}

TEST_CASE("split: train and validation are disjoint and cover every sample", "[split]") {
  Rng rng(7);
  const SplitIndices s = train_validation_split(1001, rng);
  std::vector<Index> expected(1001);
  for (Index i = 0; i < 1001; ++i) expected[static_cast<std::size_t>(i)] = i;
  CHECK(sorted_union(s) == expected);  // sorted union without repeats = disjoint and complete
  // The shuffle really moves samples.
  CHECK_FALSE(std::is_sorted(s.train.begin(), s.train.end()));
}

TEST_CASE("split: the same seed gives the same split, another seed another", "[split]") {
  Rng a(123), b(123), c(124);
  const SplitIndices sa = train_validation_split(500, a);
  const SplitIndices sb = train_validation_split(500, b);
  const SplitIndices sc = train_validation_split(500, c);
  CHECK(sa.train == sb.train);
  CHECK(sa.validation == sb.validation);
  CHECK(sa.validation != sc.validation);
}

TEST_CASE("split: without shuffling the last samples are the validation set", "[split]") {
  Rng rng(0);
  SplitOptions o;
  o.shuffle = false;
  const SplitIndices s = train_validation_split(5, rng, o);
  CHECK(s.train == std::vector<Index>{0, 1, 2, 3});
  CHECK(s.validation == std::vector<Index>{4});
}

TEST_CASE("split: a fraction outside (0, 1) or a negative count is refused", "[split]") {
  Rng rng(0);
  for (double f : {0.0, 1.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    SplitOptions o;
    o.validation_fraction = f;
    CHECK_THROWS_AS(train_validation_split(10, rng, o), InvalidArgument);
  }
  CHECK_THROWS_AS(train_validation_split(-1, rng), InvalidArgument);
  const SplitIndices empty = train_validation_split(0, rng);
  CHECK(empty.train.empty());
  CHECK(empty.validation.empty());
}

TEST_CASE("split: take applies indices to vectors and tensors", "[split]") {
  const std::vector<std::string> v = {"a", "b", "c", "d"};
  CHECK(take(v, {2, 0}) == std::vector<std::string>{"c", "a"});
  CHECK_THROWS_AS(take(v, {4}), InvalidArgument);
  const Tensor<int> t({4, 2}, std::vector<int>{0, 1, 10, 11, 20, 21, 30, 31});
  const Tensor<int> g = take(t, {3, 1});
  CHECK(g.shape() == std::vector<Index>{2, 2});
  CHECK(g.values() == std::vector<int>{30, 31, 10, 11});
}

}  // namespace test_split
