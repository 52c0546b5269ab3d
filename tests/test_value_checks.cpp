// The vectorised checks of input ids (detail::all_ids_below, before every gather) and of finite values
// (detail::all_finite, after every optimizer step): each kind of bad value at each position of arrays long
// enough to run the SIMD packets and the scalar tail, for float and double.
#include <catch2/catch.hpp>
#include <seqnet/detail/finite.hpp>
#include <seqnet/detail/projection.hpp>

#include <limits>
#include <vector>

namespace test_value_checks {

using namespace seqnet;

namespace {

template <typename T>
void check_every_position() {
  const T limit = 20;
  const std::vector<T> bad_values{T(-1),
                                  T(20),
                                  T(21),
                                  T(2.5),
                                  T(-0.5),
                                  T(19.999),
                                  std::numeric_limits<T>::quiet_NaN(),
                                  std::numeric_limits<T>::infinity(),
                                  -std::numeric_limits<T>::infinity(),
                                  T(1e30)};
  for (Index n : {1, 7, 15, 16, 17, 33, 64, 71}) {
    std::vector<T> v(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<T>((i * 7) % 20);
    INFO("n = " << n);
    REQUIRE(detail::all_ids_below(v.data(), n, limit));
    for (Index pos = 0; pos < n; ++pos)
      for (T bad : bad_values) {
        std::vector<T> w = v;
        w[static_cast<std::size_t>(pos)] = bad;
        INFO("value " << bad << " at " << pos);
        CHECK_FALSE(detail::all_ids_below(w.data(), n, limit));
      }
  }
  // Edge values that are valid: 0, -0 and limit - 1.
  std::vector<T> edge(40, T(0));
  edge[3] = T(-0.0);
  edge[17] = limit - 1;
  edge[39] = limit - 1;
  CHECK(detail::all_ids_below(edge.data(), 40, limit));
  CHECK(detail::all_ids_below(edge.data(), 0, limit));
}

template <typename T>
void check_finite_every_position() {
  const std::vector<T> bad_values{std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                                  -std::numeric_limits<T>::infinity()};
  for (Index n : {1, 7, 16, 17, 40, 100}) {
    // Large finite values whose sum would overflow must still pass.
    std::vector<T> v(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i)
      v[static_cast<std::size_t>(i)] = (i % 2 ? T(-1) : T(1)) * std::numeric_limits<T>::max() / T(i + 1);
    INFO("n = " << n);
    REQUIRE(detail::all_finite(v.data(), n));
    for (Index pos = 0; pos < n; ++pos)
      for (T bad : bad_values) {
        std::vector<T> w = v;
        w[static_cast<std::size_t>(pos)] = bad;
        INFO("value " << bad << " at " << pos);
        CHECK_FALSE(detail::all_finite(w.data(), n));
      }
  }
  CHECK(detail::all_finite(static_cast<const T*>(nullptr), 0));
}

}  // namespace

TEST_CASE("all_ids_below: every kind of bad id at every position (float)", "[ids]") { check_every_position<float>(); }

TEST_CASE("all_ids_below: every kind of bad id at every position (double)", "[ids]") { check_every_position<double>(); }

TEST_CASE("all_finite: NaN and infinities at every position (float)", "[finite]") {
  check_finite_every_position<float>();
}

TEST_CASE("all_finite: NaN and infinities at every position (double)", "[finite]") {
  check_finite_every_position<double>();
}

}  // namespace test_value_checks
