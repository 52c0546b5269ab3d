#include "gradcheck.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/dropout.hpp>

#include <limits>

namespace test_dropout {

using namespace seqnet;
using seqnet_test::gradcheck;
using seqnet_test::random_batch;

TEST_CASE("Dropout: Eval is the identity and needs no Rng", "[dropout]") {
  Dropout<float> d(0.5);
  d.build(Shape::sequence(3, 4));
  auto x = random_batch(Shape::sequence(3, 4), 2, 1);
  SeqBatch<float> xf;
  xf.batch = x.batch;
  xf.shape = x.shape;
  xf.values = x.values.cast<float>();
  xf.mask = {1, 1, 1, 0, 1, 0};
  const auto& y = d.forward(xf, Mode::Eval);
  CHECK(y.values == xf.values);
  CHECK(y.mask == xf.mask);  // the padding mask is passed on
}

TEST_CASE("Dropout: Train drops about `rate` of the elements and scales the rest", "[dropout]") {
  const double rate = 0.3;
  Dropout<double> d(rate);
  d.build(Shape::vector(1000));
  SeqBatch<double> x;
  x.batch = 100;
  x.shape = Shape::vector(1000);
  x.values = Matrix<double>::Constant(100, 1000, 2.0);
  Rng rng(42);
  const auto& y = d.forward(x, Mode::Train, &rng);
  Index zeros = 0;
  bool kept_scaled = true;
  for (Index i = 0; i < y.values.size(); ++i) {
    const double v = y.values.data()[i];
    if (v == 0.0)
      ++zeros;
    else
      kept_scaled = kept_scaled && v == Approx(2.0 / (1.0 - rate)).epsilon(1e-15);
  }
  // 100,000 draws: the standard deviation of the fraction is 0.0014, so +-0.01 is about 7 sigma.
  const double frac = static_cast<double>(zeros) / 1e5;
  CHECK(frac > rate - 0.01);
  CHECK(frac < rate + 0.01);
  CHECK(kept_scaled);
  // The mean is preserved in expectation (inverted dropout).
  CHECK(y.values.mean() == Approx(2.0).epsilon(0.02));
}

TEST_CASE("Dropout: the same Rng seed gives the same mask", "[dropout]") {
  Dropout<float> d(0.5);
  d.build(Shape::sequence(5, 8));
  SeqBatch<float> x;
  x.batch = 4;
  x.shape = Shape::sequence(5, 8);
  x.values = Matrix<float>::Ones(20, 8);
  Rng a(7), b(7), c(8);
  const Matrix<float> ya = d.forward(x, Mode::Train, &a).values;
  const Matrix<float> yb = d.forward(x, Mode::Train, &b).values;
  const Matrix<float> yc = d.forward(x, Mode::Train, &c).values;
  CHECK(ya == yb);
  CHECK(ya != yc);
  const Matrix<float> again = d.forward(x, Mode::Train, &a).values;  // a has moved on: a new mask
  CHECK(again != ya);
}

TEST_CASE("Dropout: backward multiplies by the same mask", "[dropout]") {
  Dropout<double> d(0.5);
  d.build(Shape::vector(6));
  SeqBatch<double> x;
  x.batch = 2;
  x.shape = Shape::vector(6);
  x.values = Matrix<double>::Constant(2, 6, 3.0);
  Rng rng(3);
  const Matrix<double> y = d.forward(x, Mode::Train, &rng).values;
  SeqBatch<double> dy;
  dy.batch = 2;
  dy.shape = d.output_shape();
  dy.values = Matrix<double>::Constant(2, 6, 1.0);
  const auto& dx = d.backward(dy);
  for (Index i = 0; i < y.size(); ++i) CHECK(dx.values.data()[i] == Approx(y.data()[i] / 3.0));  // dx = M
  CHECK(d.dropout_mask().size() == 12);
}

TEST_CASE("Dropout: backward matches finite differences with the mask fixed", "[dropout][gradcheck]") {
  for (const Shape& s : {Shape::vector(5), Shape::sequence(3, 4)}) {
    Dropout<double> d(0.4);
    d.build(s);
    const auto rep = gradcheck(d, random_batch(s, 3, 9));
    INFO(to_string(s) << " worst at " << rep.worst_where);
    CHECK(rep.checked == s.rows_per_sample() * 3 * s.features);
    CHECK(rep.worst < 1e-6);
    // The check ran with a real mask: some inputs dropped, some kept.
    CHECK((d.dropout_mask().array() == 0.0).any());
    CHECK((d.dropout_mask().array() != 0.0).any());
  }
}

TEST_CASE("Dropout: bad settings and missing Rng are refused", "[dropout][errors]") {
  CHECK_THROWS_AS(Dropout<float>(-0.1), InvalidArgument);
  CHECK_THROWS_WITH(Dropout<float>(1.0), Catch::Contains("rate must be in [0, 1)"));
  CHECK_THROWS_AS(Dropout<float>(std::numeric_limits<double>::quiet_NaN()), InvalidArgument);
  Dropout<float> d(0.2);
  d.build(Shape::vector(3));
  SeqBatch<float> x;
  x.batch = 1;
  x.shape = Shape::vector(3);
  x.values = Matrix<float>::Ones(1, 3);
  CHECK_THROWS_WITH(d.forward(x, Mode::Train), Catch::Contains("Dropout 'dropout'") && Catch::Contains("needs an Rng"));
  Dropout<float> ids(0.2);
  CHECK_THROWS_AS(ids.build(Shape::ids(4)), ShapeError);
  CHECK(Dropout<double>::from_config(Dropout<double>(0.25).config())->config().get_double("rate") == 0.25);
  CHECK(d.clone_unbuilt()->type_name() == "Dropout");
}

}  // namespace test_dropout
