#include "recurrent_helpers.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/bidirectional.hpp>
#include <seqnet/layers/dense.hpp>
#include <seqnet/layers/gru.hpp>
#include <seqnet/layers/lstm.hpp>
#include <seqnet/layers/simple_rnn.hpp>

namespace test_bidirectional {

using namespace seqnet;
using namespace seqnet_test;

namespace {

LSTMOptions lopts(bool seq, double dp = 0.0, double rdp = 0.0) {
  LSTMOptions o;
  o.return_sequences = seq;
  o.dropout = dp;
  o.recurrent_dropout = rdp;
  return o;
}

// Copies the first n parameter tensors of `from`, starting at tensor `first`, into `to`.
void copy_range(Layer<double>& from, std::size_t first, Layer<double>& to) {
  auto pf = from.params();
  auto pt = to.params();
  for (std::size_t i = 0; i < pt.size(); ++i) pt[i].value = pf[first + i].value;
}

}  // namespace

TEST_CASE("Bidirectional: parameters are the two inner layers', prefixed", "[bidirectional]") {
  Bidirectional<float> bi(LSTM<float>(8));
  CHECK(bi.build(Shape::sequence(100, 16)) == Shape::vector(16));
  CHECK(bi.num_params() == 1600);
  const auto& specs = bi.param_specs();
  REQUIRE(specs.size() == 6);
  CHECK(specs[0].name == "forward_kernel");
  CHECK(specs[2].name == "forward_bias");
  CHECK(specs[3].name == "backward_kernel");
  CHECK(specs[4].name == "backward_recurrent_kernel");
  Bidirectional<float> sum(std::make_unique<GRU<float>>(4), MergeMode::Sum);
  CHECK(sum.build(Shape::sequence(5, 3)) == Shape::vector(4));
  CHECK(sum.forward_layer().type_name() == "GRU");
  CHECK_FALSE(static_cast<const Recurrent<float>&>(sum.forward_layer()).go_backwards());
  CHECK(static_cast<const Recurrent<float>&>(sum.backward_layer()).go_backwards());
}

TEST_CASE("Bidirectional: output is the merge of a forward and a reversed backward pass", "[bidirectional]") {
  for (MergeMode mode : {MergeMode::Concat, MergeMode::Sum, MergeMode::Average, MergeMode::Multiply}) {
    for (bool seq : {false, true}) {
      Bidirectional<double> bi(LSTM<double>(3, lopts(seq)), mode);
      bi.build(Shape::sequence(4, 2));
      randomize(bi, 4);
      LSTM<double> f(3, lopts(seq));
      LSTMOptions bo = lopts(seq);
      bo.go_backwards = true;
      LSTM<double> b(3, bo);
      f.build(Shape::sequence(4, 2));
      b.build(Shape::sequence(4, 2));
      copy_range(bi, 0, f);
      copy_range(bi, 3, b);
      auto x = random_batch(Shape::sequence(4, 2), 2, 5);
      x.mask = {1, 1, 1, 0, 1, 1, 0, 1};
      const Matrix<double> yf = f.forward(x, Mode::Eval).values;
      Matrix<double> yb = b.forward(x, Mode::Eval).values;
      if (seq) yb = yb.colwise().reverse().eval();  // reverses the step blocks...
      if (seq)                                      // ...and the samples inside each block back
        for (Index t = 0; t < 4; ++t) yb.middleRows(t * 2, 2) = yb.middleRows(t * 2, 2).colwise().reverse().eval();
      Matrix<double> expect;
      switch (mode) {
        case MergeMode::Concat:
          expect.resize(yf.rows(), 6);
          expect << yf, yb;
          break;
        case MergeMode::Sum:
          expect = yf + yb;
          break;
        case MergeMode::Average:
          expect = (yf + yb) / 2;
          break;
        case MergeMode::Multiply:
          expect = yf.cwiseProduct(yb);
          break;
      }
      const auto& y = bi.forward(x, Mode::Eval);
      INFO(to_string(mode) << " return_sequences " << seq);
      CHECK(y.values.isApprox(expect, 1e-14));
      CHECK(y.mask == (seq ? x.mask : std::vector<std::uint8_t>{}));
    }
  }
}

TEST_CASE("Bidirectional: backward matches finite differences for every merge mode", "[bidirectional][gradcheck]") {
  for (MergeMode mode : {MergeMode::Concat, MergeMode::Sum, MergeMode::Average, MergeMode::Multiply}) {
    for (bool seq : {false, true}) {
      Bidirectional<double> bi(LSTM<double>(2, lopts(seq, 0.2, 0.3)), mode);
      bi.build(Shape::sequence(3, 3));
      randomize(bi, 8);
      auto x = random_batch(Shape::sequence(3, 3), 2, 7);
      x.mask = {1, 0, 1, 1, 1, 1};
      // Recurrent dropout leaves some recurrent-kernel gradients near 1e-6, where the rounding noise of a 1e-6
      // step exceeds the tolerance: step 1e-5.
      const auto rep = gradcheck(bi, x, 7, 1e-5);
      INFO(to_string(mode) << " return_sequences " << seq << " worst at " << rep.worst_where);
      CHECK(rep.checked == 3 * 2 * 3 + 2 * (3 * 8 + 2 * 8 + 8));  // input, then both layers
      CHECK(rep.worst < 1e-6);
    }
  }
  Bidirectional<double> g(GRU<double>(2), MergeMode::Concat);
  g.build(Shape::one_hot(3, 4));
  randomize(g, 2);
  const auto rep = gradcheck(g, random_batch(Shape::one_hot(3, 4), 2, 3));
  INFO("GRU one-hot worst at " << rep.worst_where);
  CHECK(rep.worst < 1e-6);
}

TEST_CASE("Bidirectional: works after its storage is rebound", "[bidirectional]") {
  Bidirectional<double> bi(SimpleRNN<double>(2));
  bi.build(Shape::sequence(3, 2));
  randomize(bi, 1);
  const auto x = random_batch(Shape::sequence(3, 2), 2, 2);
  const Matrix<double> before = bi.forward(x, Mode::Eval).values;
  std::vector<double> values(static_cast<std::size_t>(bi.num_params())), grads(values.size());
  bi.bind(values.data(), grads.data());
  CHECK(bi.forward(x, Mode::Eval).values == before);
  values[0] += 0.5;  // the inner layers read the new storage
  CHECK(bi.forward(x, Mode::Eval).values != before);
  Rng rng(1);
  bi.forward(x, Mode::Train, &rng);
  SeqBatch<double> dy;
  dy.batch = 2;
  dy.shape = bi.output_shape();
  dy.values = Matrix<double>::Ones(2, 4);
  bi.backward(dy);
  double norm = 0;
  for (double v : grads) norm += v * v;
  CHECK(norm > 0);
}

TEST_CASE("Bidirectional: configuration nests the inner layer", "[bidirectional][config]") {
  Bidirectional<float> bi(LSTM<float>(5, lopts(true, 0.1)), MergeMode::Average);
  const Config c = bi.config();
  CHECK(c.get_string("merge_mode") == "ave");
  CHECK(c.get_string("layer.type") == "LSTM");
  CHECK(c.get_int("layer.units") == 5);
  CHECK(c.get_bool("layer.return_sequences"));
  auto inner = LSTM<float>::from_config(c.sub("layer."));
  const auto back = Bidirectional<float>::from_config(c, std::move(inner));
  CHECK(back->config() == c);
  CHECK(bi.clone_unbuilt()->config() == c);
  CHECK(merge_mode_from_string("mul") == MergeMode::Multiply);
  CHECK_THROWS_AS(merge_mode_from_string("max"), InvalidArgument);
}

TEST_CASE("Bidirectional: refuses what it cannot wrap", "[bidirectional][errors]") {
  CHECK_THROWS_WITH(Bidirectional<float>(std::make_unique<Dense<float>>(3)),
                    Catch::Contains("can only wrap a recurrent layer"));
  CHECK_THROWS_AS(Bidirectional<float>(std::unique_ptr<Layer<float>>{}), InvalidArgument);
  auto built = std::make_unique<LSTM<float>>(2);
  built->build(Shape::sequence(2, 2));
  CHECK_THROWS_WITH(Bidirectional<float>(std::move(built)), Catch::Contains("must not be built"));
  Bidirectional<float> bi(GRU<float>(2));
  CHECK_THROWS_WITH(bi.build(Shape::ids(4)), Catch::Contains("put an Embedding first"));
}

}  // namespace test_bidirectional
