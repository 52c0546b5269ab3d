#include <catch2/catch.hpp>
#include <seqnet/losses/metrics.hpp>

#include <limits>

namespace test_metrics {

using namespace seqnet;
using Mat = Matrix<double>;

TEST_CASE("Metrics: names", "[metrics]") {
  CHECK(std::string(to_string(Metric::BinaryAccuracy)) == "binary_accuracy");
  for (Metric m : {Metric::BinaryAccuracy, Metric::CategoricalAccuracy, Metric::SparseCategoricalAccuracy})
    CHECK(metric_from_string(to_string(m)) == m);
  CHECK_THROWS_WITH(metric_from_string("accuracy"), Catch::Contains("accuracy_for"));
  CHECK_THROWS_AS(metric_from_string("auc"), InvalidArgument);
  CHECK(accuracy_for(LossKind::BinaryCrossentropy) == Metric::BinaryAccuracy);
  CHECK(accuracy_for(LossKind::CategoricalCrossentropy) == Metric::CategoricalAccuracy);
  CHECK(accuracy_for(LossKind::SparseCategoricalCrossentropy) == Metric::SparseCategoricalAccuracy);
}

TEST_CASE("Metrics: binary accuracy by hand (threshold 0.5, strict)", "[metrics]") {
  Mat p(4, 1), y(4, 1);
  p << 0.7, 0.4, 0.5, 0.51;
  y << 1, 1, 0, 0;
  // right, wrong, right (0.5 is not > 0.5), wrong
  CHECK(metric_sum(Metric::BinaryAccuracy, p, y) == 2.0);
  Mat p2(2, 2), y2(2, 2);
  p2 << 0.9, 0.1, 0.9, 0.9;
  y2 << 1, 1, 0, 1;
  // sample 0: 1/2, sample 1: 1/2
  CHECK(metric_sum(Metric::BinaryAccuracy, p2, y2) == Approx(1.0));
  Matrix<float> pf(1, 3), yf(1, 3);
  pf << 0.9f, 0.2f, 0.6f;
  yf << 1, 0, 0;
  CHECK(metric_sum(Metric::BinaryAccuracy, pf, yf) == Approx(2.0 / 3.0));
}

TEST_CASE("Metrics: categorical and sparse categorical accuracy by hand", "[metrics]") {
  Mat p(3, 3), y(3, 3), ids(3, 1);
  p << 0.2, 0.5, 0.3,  //
      0.6, 0.2, 0.2,   //
      0.4, 0.4, 0.2;   // tie: the first maximum (class 0) wins
  y << 0, 1, 0, 0, 0, 1, 1, 0, 0;
  ids << 1, 2, 0;
  CHECK(metric_sum(Metric::CategoricalAccuracy, p, y) == 2.0);
  CHECK(metric_sum(Metric::SparseCategoricalAccuracy, p, ids) == 2.0);
  p(0, 1) = std::numeric_limits<double>::quiet_NaN();  // NaN never wins: argmax becomes class 2
  CHECK(metric_sum(Metric::SparseCategoricalAccuracy, p, ids) == 1.0);
}

TEST_CASE("Metrics: shapes that do not fit are refused", "[metrics][errors]") {
  const Mat p = Mat::Constant(3, 2, 0.5);
  CHECK_THROWS_AS(metric_sum(Metric::BinaryAccuracy, p, Mat::Zero(2, 2)), ShapeError);
  CHECK_THROWS_AS(metric_sum(Metric::CategoricalAccuracy, p, Mat::Zero(3, 1)), ShapeError);
  CHECK_THROWS_WITH(metric_sum(Metric::SparseCategoricalAccuracy, p, Mat::Zero(3, 2)),
                    Catch::Contains("expected labels 3x1"));
}

}  // namespace test_metrics
