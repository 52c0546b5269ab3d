#include <catch2/catch.hpp>
#include <seqnet/core/rng.hpp>
#include <seqnet/losses/losses.hpp>

#include <cmath>
#include <functional>
#include <limits>

namespace test_losses {

using namespace seqnet;
using Mat = Matrix<double>;

namespace {

double rel_error(double a, double n) { return std::abs(a - n) / std::max({std::abs(a), std::abs(n), 1e-6}); }

// Worst relative error of the analytic gradient `grad` of f at x against central differences.
double worst_vs_numeric(const std::function<double(const Mat&)>& f, Mat x, const Mat& grad, double h = 1e-6) {
  double worst = 0.0;
  for (Index i = 0; i < x.size(); ++i) {
    const double keep = x.data()[i];
    x.data()[i] = keep + h;
    const double fp = f(x);
    x.data()[i] = keep - h;
    const double fm = f(x);
    x.data()[i] = keep;
    worst = std::max(worst, rel_error(grad.data()[i], (fp - fm) / (2 * h)));
  }
  return worst;
}

Mat random_matrix(Index r, Index c, double lo, double hi, std::uint64_t seed) {
  Rng rng(seed);
  Mat m(r, c);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(lo, hi);
  return m;
}

Mat softmax_rows(const Mat& z) {
  Mat p(z.rows(), z.cols());
  for (Index r = 0; r < z.rows(); ++r) {
    const double m = z.row(r).maxCoeff();
    double s = 0.0;
    for (Index u = 0; u < z.cols(); ++u) s += std::exp(z(r, u) - m);
    for (Index u = 0; u < z.cols(); ++u) p(r, u) = std::exp(z(r, u) - m) / s;
  }
  return p;
}

Mat one_hot_labels(Index rows, Index classes, std::uint64_t seed, Mat* ids = nullptr) {
  Rng rng(seed);
  Mat y = Mat::Zero(rows, classes);
  if (ids) ids->resize(rows, 1);
  for (Index r = 0; r < rows; ++r) {
    const Index k = static_cast<Index>(rng.below(static_cast<std::uint64_t>(classes)));
    y(r, k) = 1.0;
    if (ids) (*ids)(r, 0) = static_cast<double>(k);
  }
  return y;
}

}  // namespace

TEST_CASE("Losses: names round-trip", "[losses]") {
  for (LossKind k : {LossKind::BinaryCrossentropy, LossKind::CategoricalCrossentropy,
                     LossKind::SparseCategoricalCrossentropy, LossKind::MeanSquaredError})
    CHECK(loss_from_string(to_string(k)) == k);
  CHECK(loss_from_string("mse") == LossKind::MeanSquaredError);
  CHECK_THROWS_WITH(loss_from_string("hinge"), Catch::Contains("unknown loss 'hinge'"));
}

TEST_CASE("Losses: values by hand", "[losses]") {
  SECTION("binary cross-entropy: sum over samples of the mean over outputs") {
    Mat p(2, 2), y(2, 2);
    p << 0.9, 0.4, 0.2, 0.7;
    y << 1, 0, 0, 1;
    const double want = (-std::log(0.9) - std::log(0.6)) / 2 + (-std::log(0.8) - std::log(0.7)) / 2;
    CHECK(loss_forward_backward(LossKind::BinaryCrossentropy, p, y, 1.0, nullptr) == Approx(want).epsilon(1e-14));
  }
  SECTION("binary cross-entropy clips probabilities at 1e-7, with zero gradient there") {
    Mat p(2, 1), y(2, 1), dy;
    p << 0.0, 1.0;
    y << 1, 1;
    const double l = loss_forward_backward(LossKind::BinaryCrossentropy, p, y, 1.0, &dy);
    CHECK(l == Approx(-std::log(1e-7) - std::log(1 - 1e-7)).epsilon(1e-12));
    CHECK(dy(0, 0) == 0.0);
    CHECK(dy(1, 0) == 0.0);
  }
  SECTION("categorical cross-entropy") {
    Mat p(2, 3), y(2, 3);
    p << 0.2, 0.7, 0.1, 0.5, 0.25, 0.25;
    y << 0, 1, 0, 0, 0, 1;
    const double want = -std::log(0.7) - std::log(0.25);
    CHECK(loss_forward_backward(LossKind::CategoricalCrossentropy, p, y, 1.0, nullptr) == Approx(want).epsilon(1e-14));
    Mat ids(2, 1);
    ids << 1, 2;
    CHECK(loss_forward_backward(LossKind::SparseCategoricalCrossentropy, p, ids, 1.0, nullptr) ==
          Approx(want).epsilon(1e-14));
    // Keras normalises the rows first: doubling every probability changes nothing.
    const Mat p2 = 2.0 * p;
    CHECK(loss_forward_backward(LossKind::CategoricalCrossentropy, p2, y, 1.0, nullptr) == Approx(want).epsilon(1e-14));
  }
  SECTION("mean squared error") {
    Mat p(2, 2), y(2, 2), dy;
    p << 1.0, 2.0, 0.5, -1.0;
    y << 0.0, 2.0, 1.5, 1.0;
    // sample 0: (1 + 0)/2, sample 1: (1 + 4)/2
    CHECK(loss_forward_backward(LossKind::MeanSquaredError, p, y, 1.0, &dy) == Approx(3.0).epsilon(1e-15));
    CHECK(dy(1, 1) == Approx(2 * (-2.0) / 2));  // 2 (p - y) / U
    CHECK(dy(0, 0) == Approx(1.0));
  }
  SECTION("logits: BCE, CCE and sparse CCE") {
    Mat z(1, 2), y(1, 2);
    z << 0.0, 2.0;
    y << 1, 0;
    // sigmoid(0) = 0.5 -> log 2; z = 2, y = 0 -> log(1 + e^2)
    CHECK(loss_from_logits(LossKind::BinaryCrossentropy, z, y, 1.0, nullptr) ==
          Approx((std::log(2.0) + std::log1p(std::exp(2.0))) / 2).epsilon(1e-14));
    // softmax CCE with label 0: log(1 + e^2) - 0
    CHECK(loss_from_logits(LossKind::CategoricalCrossentropy, z, y, 1.0, nullptr) ==
          Approx(std::log(1 + std::exp(2.0))).epsilon(1e-14));
    Mat id(1, 1);
    id << 1;
    CHECK(loss_from_logits(LossKind::SparseCategoricalCrossentropy, z, id, 1.0, nullptr) ==
          Approx(std::log(1 + std::exp(2.0)) - 2.0).epsilon(1e-14));
  }
}

TEST_CASE("Losses: gradients on probabilities match finite differences", "[losses][gradcheck]") {
  const double scale = 0.25;
  SECTION("binary cross-entropy, hard and soft labels") {
    const Mat p = random_matrix(4, 3, 0.05, 0.95, 1);
    Mat y = random_matrix(4, 3, 0.0, 1.0, 2);
    y(0, 0) = 1.0;
    y(1, 1) = 0.0;
    Mat dy;
    loss_forward_backward(LossKind::BinaryCrossentropy, p, y, scale, &dy);
    auto f = [&](const Mat& x) {
      return scale * loss_forward_backward(LossKind::BinaryCrossentropy, x, y, 1.0, nullptr);
    };
    CHECK(worst_vs_numeric(f, p, dy) < 1e-6);
  }
  SECTION("categorical cross-entropy, normalised and not") {
    for (bool normalised : {true, false}) {
      Mat p = random_matrix(4, 3, 0.1, 1.0, 3);
      if (normalised) p = softmax_rows(random_matrix(4, 3, -2, 2, 4));
      const Mat y = one_hot_labels(4, 3, 5);
      Mat dy;
      loss_forward_backward(LossKind::CategoricalCrossentropy, p, y, scale, &dy);
      auto f = [&](const Mat& x) {
        return scale * loss_forward_backward(LossKind::CategoricalCrossentropy, x, y, 1.0, nullptr);
      };
      INFO("normalised " << normalised);
      CHECK(worst_vs_numeric(f, p, dy) < 1e-6);
    }
  }
  SECTION("sparse categorical cross-entropy") {
    const Mat p = random_matrix(5, 4, 0.1, 1.0, 6);
    Mat ids;
    one_hot_labels(5, 4, 7, &ids);
    Mat dy;
    loss_forward_backward(LossKind::SparseCategoricalCrossentropy, p, ids, scale, &dy);
    auto f = [&](const Mat& x) {
      return scale * loss_forward_backward(LossKind::SparseCategoricalCrossentropy, x, ids, 1.0, nullptr);
    };
    CHECK(worst_vs_numeric(f, p, dy) < 1e-6);
  }
  SECTION("mean squared error") {
    const Mat p = random_matrix(3, 2, -1, 1, 8), y = random_matrix(3, 2, -1, 1, 9);
    Mat dy;
    loss_forward_backward(LossKind::MeanSquaredError, p, y, scale, &dy);
    auto f = [&](const Mat& x) {
      return scale * loss_forward_backward(LossKind::MeanSquaredError, x, y, 1.0, nullptr);
    };
    CHECK(worst_vs_numeric(f, p, dy) < 1e-6);
  }
}

TEST_CASE("Losses: gradients from logits match finite differences", "[losses][gradcheck]") {
  const double scale = 0.5;
  const Mat z = random_matrix(4, 3, -3, 3, 11);
  Mat y = random_matrix(4, 3, 0, 1, 12), ids;
  const Mat onehot = one_hot_labels(4, 3, 13, &ids);
  struct Case {
    LossKind kind;
    const Mat* labels;
  };
  for (const Case& c : {Case{LossKind::BinaryCrossentropy, &y}, Case{LossKind::CategoricalCrossentropy, &onehot},
                        Case{LossKind::CategoricalCrossentropy, &y},  // labels not summing to 1
                        Case{LossKind::SparseCategoricalCrossentropy, &ids}}) {
    Mat dz;
    loss_from_logits(c.kind, z, *c.labels, scale, &dz);
    auto f = [&](const Mat& x) { return scale * loss_from_logits(c.kind, x, *c.labels, 1.0, nullptr); };
    INFO(to_string(c.kind));
    CHECK(worst_vs_numeric(f, z, dz) < 1e-6);
  }
}

TEST_CASE("Losses: the fused logit path equals the unfused one where nothing is clipped", "[losses]") {
  const Mat z = random_matrix(5, 3, -4, 4, 21);
  SECTION("sigmoid + binary cross-entropy") {
    const Mat y = random_matrix(5, 3, 0, 1, 22);
    const Mat p = z.unaryExpr([](double v) { return 1.0 / (1.0 + std::exp(-v)); });
    Mat dz, dp;
    const double fused = loss_from_logits(LossKind::BinaryCrossentropy, z, y, 0.2, &dz);
    const double plain = loss_forward_backward(LossKind::BinaryCrossentropy, p, y, 0.2, &dp);
    CHECK(fused == Approx(plain).epsilon(1e-12));
    const Mat chained = dp.cwiseProduct(p.cwiseProduct((1.0 - p.array()).matrix()));  // dz = dp * p (1 - p)
    CHECK((dz - chained).cwiseAbs().maxCoeff() < 1e-12);
  }
  SECTION("softmax + (sparse) categorical cross-entropy") {
    Mat ids;
    const Mat y = one_hot_labels(5, 3, 23, &ids);
    const Mat p = softmax_rows(z);
    Mat dz, dzs, dp;
    const double fused = loss_from_logits(LossKind::CategoricalCrossentropy, z, y, 0.2, &dz);
    const double sparse = loss_from_logits(LossKind::SparseCategoricalCrossentropy, z, ids, 0.2, &dzs);
    const double plain = loss_forward_backward(LossKind::CategoricalCrossentropy, p, y, 0.2, &dp);
    CHECK(fused == Approx(plain).epsilon(1e-12));
    CHECK(sparse == Approx(plain).epsilon(1e-12));
    // Through the softmax Jacobian: dz_r = p_r .* (dp_r - <dp_r, p_r>)
    for (Index r = 0; r < 5; ++r) {
      const double dot = dp.row(r).dot(p.row(r));
      for (Index u = 0; u < 3; ++u) {
        CHECK(dz(r, u) == Approx(p(r, u) * (dp(r, u) - dot)).margin(1e-12));
        CHECK(dzs(r, u) == Approx(dz(r, u)).margin(1e-15));
        CHECK(dz(r, u) == Approx(0.2 * (p(r, u) - y(r, u))).margin(1e-15));  // dz = scale (softmax - y)
      }
    }
  }
}

TEST_CASE("Losses: huge logits give a finite loss and gradient", "[losses]") {
  Mat z(2, 2), y(2, 2), dz;
  z << 1000, -1000, -1000, 1000;
  y << 0, 1, 1, 0;
  const double bce = loss_from_logits(LossKind::BinaryCrossentropy, z, y, 1.0, &dz);
  CHECK(bce == Approx(2000.0));  // each sample: (1000 + 1000) / 2
  CHECK(dz.allFinite());
  CHECK(dz(0, 0) == Approx(0.5));  // (sigmoid(1000) - 0) / 2
  const double cce = loss_from_logits(LossKind::CategoricalCrossentropy, z, y, 1.0, &dz);
  CHECK(cce == Approx(4000.0));
  CHECK(dz.allFinite());
  Matrix<float> zf(1, 2), yf(1, 2), dzf;
  zf << 1e30f, -1e30f;
  yf << 0, 1;
  CHECK(std::isfinite(loss_from_logits(LossKind::BinaryCrossentropy, zf, yf, 1.0f, &dzf)));
  CHECK(std::isfinite(loss_from_logits(LossKind::CategoricalCrossentropy, zf, yf, 1.0f, &dzf)));
  CHECK(dzf.allFinite());
}

TEST_CASE("Losses: labels that do not fit are refused with a clear message", "[losses][errors]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Mat p = Mat::Constant(3, 2, 0.5), dy;
  CHECK_THROWS_WITH(loss_forward_backward(LossKind::BinaryCrossentropy, p, Mat::Zero(2, 2), 1.0, &dy),
                    Catch::Contains("labels are 2x2, expected 3x2"));
  CHECK_THROWS_AS(loss_forward_backward(LossKind::BinaryCrossentropy, p, Mat::Zero(3, 1), 1.0, &dy), ShapeError);
  CHECK_THROWS_AS(loss_forward_backward(LossKind::SparseCategoricalCrossentropy, p, Mat::Zero(3, 2), 1.0, &dy),
                  ShapeError);
  Mat y = Mat::Zero(3, 2);
  y(1, 1) = nan;
  CHECK_THROWS_WITH(loss_forward_backward(LossKind::MeanSquaredError, p, y, 1.0, &dy),
                    Catch::Contains("label of sample 1, output 1 is nan"));
  Mat ids(3, 1);
  ids << 0, 2, 1;
  CHECK_THROWS_WITH(loss_from_logits(LossKind::SparseCategoricalCrossentropy, p, ids, 1.0, &dy),
                    Catch::Contains("class id 2 of sample 1 is not an integer in [0, 2)"));
  ids << 0, -1, 1;
  CHECK_THROWS_AS(loss_forward_backward(LossKind::SparseCategoricalCrossentropy, p, ids, 1.0, &dy), InvalidArgument);
  ids << 0, 0.5, 1;
  CHECK_THROWS_AS(loss_forward_backward(LossKind::SparseCategoricalCrossentropy, p, ids, 1.0, &dy), InvalidArgument);
  ids << 0, nan, 1;
  CHECK_THROWS_AS(loss_forward_backward(LossKind::SparseCategoricalCrossentropy, p, ids, 1.0, &dy), InvalidArgument);
  CHECK_THROWS_WITH(check_labels(LossKind::BinaryCrossentropy, Mat(Mat::Zero(4, 1)), 3, 1, "fit: "),
                    Catch::StartsWith("fit: binary_crossentropy: labels are 4x1"));
  CHECK_THROWS_WITH(loss_from_logits(LossKind::MeanSquaredError, p, Mat::Zero(3, 2), 1.0, &dy),
                    Catch::Contains("no fused path"));
  CHECK_THROWS_AS(loss_forward_backward(LossKind::MeanSquaredError, Mat(3, 0), Mat(3, 0), 1.0, &dy), ShapeError);
  Mat ok(3, 1);
  ok << 0, 1, 1;
  CHECK_NOTHROW(check_labels(LossKind::SparseCategoricalCrossentropy, ok, 3, 2, ""));
}

TEST_CASE("Losses: float results agree with double", "[losses]") {
  const Mat z = random_matrix(6, 4, -3, 3, 31), y = random_matrix(6, 4, 0, 1, 32);
  const Mat p = softmax_rows(z);
  const Matrix<float> zf = z.cast<float>(), yf = y.cast<float>(), pf = p.cast<float>();
  for (LossKind k : {LossKind::BinaryCrossentropy, LossKind::CategoricalCrossentropy, LossKind::MeanSquaredError}) {
    Mat d;
    Matrix<float> df;
    const double ld = loss_forward_backward(k, p, y, 0.5, &d);
    const double lf = loss_forward_backward(k, pf, yf, 0.5, &df);
    INFO(to_string(k));
    CHECK(lf == Approx(ld).epsilon(1e-5));
    CHECK((df.cast<double>() - d).cwiseAbs().maxCoeff() < 1e-4 * std::max(1.0, d.cwiseAbs().maxCoeff()));
    if (k == LossKind::MeanSquaredError) continue;
    const double gd = loss_from_logits(k, z, y, 0.5, &d);
    const double gf = loss_from_logits(k, zf, yf, 0.5, &df);
    CHECK(gf == Approx(gd).epsilon(1e-5));
    CHECK((df.cast<double>() - d).cwiseAbs().maxCoeff() < 1e-6);
  }
}

}  // namespace test_losses
