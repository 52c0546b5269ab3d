#include "gradcheck.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/dense.hpp>

namespace test_dense {

using namespace seqnet;
using seqnet_test::gradcheck;
using seqnet_test::random_batch;

TEST_CASE("Dense: parameter count and Keras shapes", "[dense]") {
  Dense<float> d(1, Activation::Sigmoid);
  const Shape out = d.build(Shape::vector(8));
  CHECK(d.num_params() == 9);
  CHECK(out == Shape::vector(1));
  REQUIRE(d.param_specs().size() == 2);
  CHECK(d.param_specs()[0].name == "kernel");
  CHECK(d.param_specs()[0].rows == 8);
  CHECK(d.param_specs()[1].name == "bias");
}

TEST_CASE("Dense: forward by hand", "[dense]") {
  Dense<double> d(2, Activation::Linear);
  d.build(Shape::vector(3));
  d.param("kernel") << 1, 0, 0, 1, 2, -1;  // rows: inputs
  d.param("bias") << 0.5, -0.5;
  SeqBatch<double> x;
  x.batch = 1;
  x.shape = Shape::vector(3);
  x.values.resize(1, 3);
  x.values << 1, 2, 3;
  const auto& y = d.forward(x, Mode::Eval);
  CHECK(y.values(0, 0) == Approx(1 + 0 + 6 + 0.5));
  CHECK(y.values(0, 1) == Approx(0 + 2 - 3 - 0.5));
}

TEST_CASE("Dense: softmax rows sum to one", "[dense]") {
  Dense<double> d(4, Activation::Softmax);
  d.build(Shape::vector(3));
  Rng rng(1);
  d.initialize(rng);
  const auto& y = d.forward(random_batch(Shape::vector(3), 5, 2), Mode::Eval);
  for (Index r = 0; r < 5; ++r) CHECK(y.values.row(r).sum() == Approx(1.0));
}

TEST_CASE("Dense: backward matches finite differences", "[dense][gradcheck]") {
  for (Activation a :
       {Activation::Linear, Activation::Relu, Activation::Sigmoid, Activation::Tanh, Activation::Softmax}) {
    for (const Shape& s : {Shape::vector(4), Shape::sequence(3, 4), Shape::one_hot(3, 6)}) {
      Dense<double> d(3, a);
      d.build(s);
      Rng rng(3);
      d.initialize(rng);
      const auto rep = gradcheck(d, random_batch(s, 2, 5));
      INFO(to_string(a) << " " << to_string(s) << " worst at " << rep.worst_where);
      CHECK(rep.checked > 0);
      CHECK(rep.worst < 1e-6);
    }
  }
}

TEST_CASE("Dense: one-hot input equals the dense one-hot tensor", "[dense][onehot]") {
  Dense<double> a(3, Activation::Tanh), b(3, Activation::Tanh);
  a.build(Shape::one_hot(2, 5));
  b.build(Shape::sequence(2, 5));
  Rng r1(9), r2(9);
  a.initialize(r1);
  b.initialize(r2);
  SeqBatch<double> ids = random_batch(Shape::one_hot(2, 5), 3, 4);
  SeqBatch<double> dense;
  dense.batch = 3;
  dense.shape = Shape::sequence(2, 5);
  dense.values = Matrix<double>::Zero(6, 5);
  for (Index r = 0; r < 6; ++r) dense.values(r, static_cast<Index>(ids.values(r, 0))) = 1.0;
  CHECK(a.forward(ids, Mode::Eval).values.isApprox(b.forward(dense, Mode::Eval).values));
}

TEST_CASE("Dense: bad input is refused with a clear message", "[dense][errors]") {
  Dense<float> d(2);
  CHECK_THROWS_AS(Dense<float>(0), InvalidArgument);
  SeqBatch<float> x;
  CHECK_THROWS_WITH(d.forward(x, Mode::Eval), Catch::Contains("before build"));
  d.build(Shape::vector(3));
  x.batch = 2;
  x.shape = Shape::vector(4);
  x.values.resize(2, 4);
  CHECK_THROWS_WITH(d.forward(x, Mode::Eval), Catch::Contains("does not match"));
  Dense<float> oh(2);
  oh.build(Shape::one_hot(1, 4));
  SeqBatch<float> ids;
  ids.batch = 1;
  ids.shape = Shape::one_hot(1, 4);
  ids.values.resize(1, 1);
  ids.values(0, 0) = 7;
  CHECK_THROWS_WITH(oh.forward(ids, Mode::Eval), Catch::Contains("token id 7 at sample 0, step 0"));
}

}  // namespace test_dense
