#include <catch2/catch.hpp>
#include <seqnet/optim/clip.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace test_clip {

using namespace seqnet;

TEST_CASE("Clip: global norm by hand", "[clip]") {
  const std::vector<double> g = {3.0, 4.0, 0.0, -12.0};
  CHECK(global_norm(g.data(), 4) == Approx(13.0).epsilon(1e-15));
  CHECK(global_norm(g.data(), 0) == 0.0);
  const std::vector<float> gf = {3.0f, 4.0f};
  CHECK(global_norm(gf.data(), 2) == Approx(5.0));
  // Accumulated in double: squares that overflow float still give the right norm.
  const std::vector<float> big = {3e20f, 4e20f};
  CHECK(global_norm(big.data(), 2) == Approx(5e20).epsilon(1e-6));
  // Even squares that overflow double give the right norm, so finite gradients are always clipped.
  std::vector<double> huge = {3e200, -4e200};
  CHECK(global_norm(huge.data(), 2) == Approx(5e200).epsilon(1e-12));
  clip_by_global_norm(huge.data(), 2, 1.0);
  CHECK(huge[0] == Approx(0.6).epsilon(1e-12));
  CHECK(huge[1] == Approx(-0.8).epsilon(1e-12));
  const std::vector<double> with_nan = {1e200, std::numeric_limits<double>::quiet_NaN()};
  CHECK(std::isnan(global_norm(with_nan.data(), 2)));
}

TEST_CASE("Clip: by global norm rescales only above the limit", "[clip]") {
  std::vector<double> g = {3.0, 4.0};
  clip_by_global_norm(g.data(), 2, 1.0);  // norm 5 -> 1: g * 1/5
  CHECK(g[0] == Approx(0.6).epsilon(1e-15));
  CHECK(g[1] == Approx(0.8).epsilon(1e-15));
  std::vector<double> h = {3.0, 4.0};
  clip_by_global_norm(h.data(), 2, 10.0);
  CHECK(h[0] == 3.0);
  CHECK(h[1] == 4.0);
  std::vector<float> f = {0.0f, 6.0f, 8.0f};
  clip_by_global_norm(f.data(), 3, 5.0);
  CHECK(f[1] == Approx(3.0f));
  CHECK(f[2] == Approx(4.0f));
  CHECK(global_norm(f.data(), 3) == Approx(5.0));
}

TEST_CASE("Clip: by value clamps each element", "[clip]") {
  std::vector<double> g = {-3.0, 0.5, 2.0, -1.0, 1.0};
  clip_by_value(g.data(), 5, 1.0);
  CHECK(g == std::vector<double>{-1.0, 0.5, 1.0, -1.0, 1.0});
  std::vector<float> f = {-3.0f, 2.0f};
  clip_by_value(f.data(), 2, 1e300);  // beyond float's range: nothing to clip
  CHECK(f == std::vector<float>{-3.0f, 2.0f});
}

TEST_CASE("Clip: invalid arguments and non-finite gradients are refused", "[clip][errors]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  std::vector<double> g = {1.0, 2.0};
  for (double bad : {0.0, -1.0, nan, inf}) {
    CHECK_THROWS_AS(clip_by_global_norm(g.data(), 2, bad), InvalidArgument);
    CHECK_THROWS_AS(clip_by_value(g.data(), 2, bad), InvalidArgument);
  }
  CHECK_THROWS_AS(global_norm(g.data(), -1), InvalidArgument);
  CHECK_THROWS_AS(global_norm(static_cast<const double*>(nullptr), 2), InvalidArgument);
  CHECK_THROWS_AS(clip_by_value(static_cast<double*>(nullptr), 2, 1.0), InvalidArgument);
  std::vector<double> bad = {1.0, nan};
  CHECK_THROWS_AS(clip_by_global_norm(bad.data(), 2, 1.0), NumericError);
  CHECK(bad[0] == 1.0);  // left untouched
  std::vector<double> infinite = {inf, 1.0};
  CHECK_THROWS_WITH(clip_by_global_norm(infinite.data(), 2, 1.0), Catch::Contains("not finite"));
}

}  // namespace test_clip
