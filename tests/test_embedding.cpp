#include "gradcheck.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/embedding.hpp>

#include <limits>

namespace test_embedding {

using namespace seqnet;
using seqnet_test::gradcheck;
using seqnet_test::random_batch;

namespace {

template <typename T>
SeqBatch<T> ids_batch(Index steps, Index batch, std::initializer_list<double> ids) {
  SeqBatch<T> x;
  x.batch = batch;
  x.shape = Shape::ids(steps);
  x.values.resize(steps * batch, 1);
  Index r = 0;
  for (double v : ids) x.values(r++, 0) = static_cast<T>(v);
  return x;
}

}  // namespace

TEST_CASE("Embedding: parameter count, shapes and initial range", "[embedding]") {
  Embedding<float> e(500, 16);
  const Shape out = e.build(Shape::ids(100));
  CHECK(e.num_params() == 8000);  // 500 * 16, as in the chapter's summary
  CHECK(out == Shape::sequence(100, 16));
  REQUIRE(e.param_specs().size() == 1);
  CHECK(e.param_specs()[0].name == "embeddings");
  CHECK(e.param_specs()[0].rows == 500);
  CHECK(e.param_specs()[0].cols == 16);
  Rng rng(1);
  e.initialize(rng);
  const auto& E = e.param("embeddings");
  CHECK(E.maxCoeff() <= 0.05f);
  CHECK(E.minCoeff() >= -0.05f);
  CHECK(E.maxCoeff() > 0.04f);  // really drawn, not left at zero
  CHECK(e.type_name() == "Embedding");
  CHECK(e.default_name() == "embedding");
}

TEST_CASE("Embedding: forward gathers rows by hand", "[embedding]") {
  Embedding<double> e(4, 2);
  e.build(Shape::ids(2));
  e.param("embeddings") << 0.0, 0.5,  //
      1.0, 1.5,                       //
      2.0, 2.5,                       //
      3.0, 3.5;
  // 2 samples x 2 steps, time-major rows: (t0,b0) (t0,b1) (t1,b0) (t1,b1)
  const auto x = ids_batch<double>(2, 2, {3, 1, 0, 3});
  const auto& y = e.forward(x, Mode::Eval);
  REQUIRE(y.values.rows() == 4);
  REQUIRE(y.values.cols() == 2);
  CHECK(y.values(0, 0) == 3.0);
  CHECK(y.values(0, 1) == 3.5);
  CHECK(y.values(1, 0) == 1.0);
  CHECK(y.values(2, 1) == 0.5);
  CHECK(y.values(3, 0) == 3.0);
  CHECK(y.shape == Shape::sequence(2, 2));
  CHECK_FALSE(y.has_mask());
}

TEST_CASE("Embedding: backward matches finite differences", "[embedding][gradcheck]") {
  for (Index steps : {1, 4}) {
    Embedding<double> e(10, 3);
    e.build(Shape::ids(steps));
    Rng rng(2);
    e.initialize(rng);
    const auto rep = gradcheck(e, random_batch(Shape::ids(steps), 3, 5));
    INFO("steps " << steps << " worst at " << rep.worst_where);
    CHECK(rep.checked == 30);  // every embedding value; ids have no input gradient
    CHECK(rep.worst < 1e-6);
  }
}

TEST_CASE("Embedding: repeated ids accumulate their gradients", "[embedding]") {
  Embedding<double> e(5, 2);
  e.build(Shape::ids(3));
  const auto x = ids_batch<double>(3, 1, {1, 1, 2});
  e.forward(x, Mode::Train);
  SeqBatch<double> dy;
  dy.batch = 1;
  dy.shape = e.output_shape();
  dy.values.resize(3, 2);
  dy.values << 1.0, 2.0, 10.0, 20.0, 100.0, 200.0;
  e.zero_grad();
  const auto& dx = e.backward(dy);
  CHECK(dx.values.size() == 0);  // no gradient for ids
  const auto& g = e.grad("embeddings");
  CHECK(g(1, 0) == 11.0);
  CHECK(g(1, 1) == 22.0);
  CHECK(g(2, 0) == 100.0);
  CHECK(g(0, 0) == 0.0);
  CHECK(g(3, 1) == 0.0);
  e.forward(x, Mode::Train);
  e.backward(dy);  // backward adds
  CHECK(g(1, 0) == 22.0);
  CHECK_THROWS_WITH(e.backward(dy), Catch::Contains("one backward per forward"));
}

TEST_CASE("Embedding: mask_zero marks the padding steps", "[embedding][mask]") {
  Embedding<float> e(6, 2, EmbeddingOptions{true});
  e.build(Shape::ids(3));
  const auto x = ids_batch<float>(3, 2, {0, 4, 0, 5, 2, 1});
  const auto& y = e.forward(x, Mode::Eval);
  REQUIRE(y.mask.size() == 6);
  CHECK(y.mask == std::vector<std::uint8_t>{0, 1, 0, 1, 1, 1});
  CHECK(e.mask_zero());
  Embedding<float> plain(6, 2);
  plain.build(Shape::ids(3));
  CHECK_FALSE(plain.forward(x, Mode::Eval).has_mask());
}

TEST_CASE("Embedding: bad ids are refused naming the id, sample and step", "[embedding][errors]") {
  Embedding<float> e(10, 2);
  e.build(Shape::ids(2));
  auto x = ids_batch<float>(2, 2, {1, 2, 3, 10});  // row 3 = step 1, sample 1
  CHECK_THROWS_WITH(e.forward(x, Mode::Eval),
                    Catch::Contains("Embedding 'embedding'") && Catch::Contains("token id 10 at sample 1, step 1"));
  x.values(3, 0) = -1;
  CHECK_THROWS_WITH(e.forward(x, Mode::Eval), Catch::Contains("token id -1 at sample 1, step 1"));
  x.values(3, 0) = 2.5f;
  CHECK_THROWS_WITH(e.forward(x, Mode::Eval), Catch::Contains("token id 2.5"));
  x.values(3, 0) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(e.forward(x, Mode::Eval), Catch::Contains("token id nan"));
  x.values(3, 0) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(e.forward(x, Mode::Eval), InvalidArgument);
}

TEST_CASE("Embedding: bad settings and shapes are refused", "[embedding][errors]") {
  CHECK_THROWS_AS(Embedding<float>(0, 4), InvalidArgument);
  CHECK_THROWS_AS(Embedding<float>(4, -1), InvalidArgument);
  Embedding<float> e(10, 2);
  CHECK_THROWS_WITH(e.build(Shape::sequence(3, 4)), Catch::Contains("integer ids"));
  CHECK_THROWS_AS(e.build(Shape::one_hot(3, 10)), ShapeError);
  CHECK_THROWS_AS(e.build(Shape{0, 1, Encoding::Ids}), ShapeError);
}

TEST_CASE("Embedding: config round trip and clone", "[embedding]") {
  Embedding<double> e(500, 32, EmbeddingOptions{true});
  const Config c = e.config();
  CHECK(c.get_int("input_dim") == 500);
  CHECK(c.get_int("output_dim") == 32);
  CHECK(c.get_bool("mask_zero"));
  CHECK(Embedding<double>::from_config(c)->config() == c);
  auto copy = e.clone_unbuilt();
  CHECK(copy->config() == c);
  CHECK_FALSE(copy->built());
}

}  // namespace test_embedding
