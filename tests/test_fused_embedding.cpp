// The fused Embedding -> recurrent path (Recurrent::set_fused_embedding): reading ids through E W must give
// the same outputs and gradients as the Embedding layer followed by the recurrent layer.
#include "gradcheck.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/embedding.hpp>
#include <seqnet/layers/gru.hpp>
#include <seqnet/layers/lstm.hpp>
#include <seqnet/layers/simple_rnn.hpp>

#include <memory>

using namespace seqnet;

namespace {

constexpr Index kVocab = 7, kDim = 3, kSteps = 5, kBatch = 4;

SeqBatch<double> random_ids(std::uint64_t seed, Index vocab = kVocab) {
  Rng rng(seed);
  SeqBatch<double> ids;
  ids.batch = kBatch;
  ids.shape = Shape::ids(kSteps);
  ids.values.resize(kSteps * kBatch, 1);
  for (Index r = 0; r < ids.values.rows(); ++r)
    ids.values(r, 0) = static_cast<double>(rng.below(static_cast<std::uint64_t>(vocab)));
  return ids;
}

// Runs Embedding -> layer both ways (unfused, fused) in `mode` and compares outputs and every gradient.
void check_fused_equals_unfused(Layer<double>& layer, Mode mode, Index vocab = kVocab) {
  Embedding<double> emb(vocab, kDim);
  emb.build(Shape::ids(kSteps));
  layer.build(Shape::sequence(kSteps, kDim));
  Rng init(11);
  emb.initialize(init);
  layer.initialize(init);
  auto& rec = dynamic_cast<Recurrent<double>&>(layer);
  const SeqBatch<double> ids = random_ids(3, vocab);

  // Unfused: the Embedding materialises x = E[ids].
  rec.set_fused_embedding(nullptr);
  Rng r1(5);
  const SeqBatch<double>& x = emb.forward(ids, mode, &r1);
  const Matrix<double> y_ref = layer.forward(x, mode, &r1).values;
  Matrix<double> dE_ref, dW_ref;
  std::vector<Matrix<double>> g_ref;
  SeqBatch<double> dy;
  dy.batch = kBatch;
  dy.shape = layer.output_shape();
  dy.values = Matrix<double>::Random(y_ref.rows(), y_ref.cols());
  if (mode == Mode::Train) {
    emb.zero_grad();
    layer.zero_grad();
    emb.backward(layer.backward(dy));
    dE_ref = emb.grad(0);
    for (auto& p : layer.params()) g_ref.push_back(p.grad);
  }

  // Fused: the layer reads the ids through E W.
  rec.set_fused_embedding(&emb);
  REQUIRE(rec.fuses_embedding(mode, 2 * vocab));
  Rng r2(5);
  const Matrix<double> y = layer.forward(ids, mode, &r2).values;
  CHECK((y - y_ref).cwiseAbs().maxCoeff() < 1e-12);
  if (mode == Mode::Train) {
    emb.zero_grad();
    layer.zero_grad();
    CHECK(layer.backward(dy).values.size() == 0);  // no dL/dx for ids
    CHECK((emb.grad(0) - dE_ref).cwiseAbs().maxCoeff() < 1e-12);
    auto params = layer.params();
    for (std::size_t k = 0; k < params.size(); ++k) {
      INFO(params[k].spec->name);
      CHECK((params[k].grad - g_ref[k]).cwiseAbs().maxCoeff() < 1e-12);
    }
  }
}

}  // namespace

TEST_CASE("Fused embedding: LSTM gives the unfused outputs and gradients", "[fused][lstm]") {
  for (bool seq : {false, true})
    for (bool back : {false, true}) {
      LSTMOptions o;
      o.return_sequences = seq;
      o.go_backwards = back;
      LSTM<double> l(4, o);
      check_fused_equals_unfused(l, Mode::Train);
      LSTM<double> e(4, o);
      check_fused_equals_unfused(e, Mode::Eval);
    }
}

TEST_CASE("Fused embedding: GRU (both reset modes) and SimpleRNN agree with the unfused path",
          "[fused][gru][simple_rnn]") {
  for (bool reset_after : {true, false}) {
    GRUOptions o;
    o.reset_after = reset_after;
    GRU<double> g(3, o);
    check_fused_equals_unfused(g, Mode::Train);
  }
  SimpleRNNOptions so;
  so.return_sequences = true;
  SimpleRNN<double> s(5, so);
  check_fused_equals_unfused(s, Mode::Train);
}

TEST_CASE("Fused embedding: a table too large to gather step by step gives the same outputs in evaluation",
          "[fused][eval]") {
  // Evaluation gathers each step's rows of P = E W as the loop reaches it, unless P is larger than
  // Recurrent::kStepwiseTableBytes; then it gathers all steps first, as training does. 20,000 x kH doubles is
  // over that limit for every layer here, and over kTransposedTableBytes (the gather reads P's columns, not a
  // transposed copy); the unfused path reads dense input step by step.
  const Index vocab = 20000;
  REQUIRE(vocab * 4 * 3 * static_cast<Index>(sizeof(double)) > Recurrent<double>::kStepwiseTableBytes);
  for (bool back : {false, true}) {
    LSTMOptions lo;
    lo.return_sequences = true;
    lo.go_backwards = back;
    LSTM<double> l(4, lo);
    check_fused_equals_unfused(l, Mode::Eval, vocab);
    GRUOptions go;
    go.go_backwards = back;
    GRU<double> g(4, go);
    check_fused_equals_unfused(g, Mode::Eval, vocab);
    SimpleRNNOptions so;
    so.return_sequences = true;
    so.go_backwards = back;
    SimpleRNN<double> r(12, so);
    check_fused_equals_unfused(r, Mode::Eval, vocab);
  }
}

TEST_CASE("Fused embedding: recurrent dropout trains fused; input dropout only in inference", "[fused][dropout]") {
  LSTMOptions rd;
  rd.recurrent_dropout = 0.4;
  LSTM<double> a(4, rd);
  check_fused_equals_unfused(a, Mode::Train);  // the recurrent mask is drawn from the same Rng state

  LSTMOptions in;
  in.dropout = 0.3;
  LSTM<double> b(4, in);
  check_fused_equals_unfused(b, Mode::Eval);
  CHECK_FALSE(b.fuses_embedding(Mode::Train, 1000));
  Rng rng(1);
  CHECK_THROWS_WITH(b.forward(random_ids(2), Mode::Train, &rng), Catch::Contains("input dropout"));
}

TEST_CASE("Fused embedding: errors name the id, and a table that does not fit is refused", "[fused][errors]") {
  Embedding<double> emb(kVocab, kDim);
  emb.build(Shape::ids(kSteps));
  LSTM<double> l(2);
  l.build(Shape::sequence(kSteps, kDim));
  SeqBatch<double> ids = random_ids(1);
  CHECK_THROWS_AS(l.forward(ids, Mode::Eval), ShapeError);  // no table attached: ids are refused
  l.set_fused_embedding(&emb);
  ids.values(6, 0) = kVocab;  // step 1, sample 2
  CHECK_THROWS_WITH(l.forward(ids, Mode::Eval), Catch::Contains("token id 7 at sample 2, step 1"));
  CHECK_FALSE(l.fuses_embedding(Mode::Eval, 2 * kVocab - 1));  // too few rows for E W to pay off

  Embedding<double> wide(kVocab, kDim + 1);
  wide.build(Shape::ids(kSteps));
  CHECK_THROWS_AS(l.set_fused_embedding(&wide), ShapeError);
}

#include <seqnet/layers/dense.hpp>
#include <seqnet/model/sequential.hpp>
#include <seqnet/optim/rmsprop.hpp>

TEST_CASE("Fused embedding: a Sequential model trains the same fused and unfused", "[fused][sequential]") {
  // mask_zero switches the fusion off; with no id 0 in the data the two models compute the same function.
  auto make = [](bool mask_zero, int threads) {
    Sequential<double> m(SequentialOptions{7, threads, "m"});
    EmbeddingOptions eo;
    eo.mask_zero = mask_zero;
    m.add(Embedding<double>(kVocab, kDim, eo));
    m.add(LSTM<double>(4));
    m.add(Dense<double>(1, Activation::Sigmoid));
    m.build(Shape::ids(kSteps));
    m.compile(LossKind::BinaryCrossentropy, RMSprop<double>(RMSpropOptions{}));
    return m;
  };
  Rng rng(2);
  const Index n = 8;
  Tensor<double> x({n, kSteps}), y({n});
  for (auto& v : x.values()) v = static_cast<double>(1 + rng.below(kVocab - 1));
  for (auto& v : y.values()) v = static_cast<double>(rng.below(2));
  for (int threads : {1, 2}) {
    auto fused = make(false, threads), plain = make(true, threads);
    for (int step = 0; step < 5; ++step) {
      const double a = fused.train_on_batch(x, y), b = plain.train_on_batch(x, y);
      CHECK(a == Approx(b).epsilon(1e-12));
    }
    double worst = 0;
    for (Index i = 0; i < fused.num_params(); ++i)
      worst = std::max(worst, std::abs(fused.values()[i] - plain.values()[i]));
    CHECK(worst < 1e-12);
    const auto pf = fused.predict(x), pp = plain.predict(x);
    for (Index i = 0; i < n; ++i) CHECK(pf(i, 0) == Approx(pp(i, 0)).epsilon(1e-12));
  }
}
