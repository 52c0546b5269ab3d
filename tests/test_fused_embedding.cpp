// The fused Embedding -> recurrent path (Recurrent::set_fused_embedding): reading ids through E W must give
// the same outputs and gradients as the Embedding layer followed by the recurrent layer.
#include "gradcheck.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/bidirectional.hpp>
#include <seqnet/layers/embedding.hpp>
#include <seqnet/layers/gru.hpp>
#include <seqnet/layers/lstm.hpp>
#include <seqnet/layers/simple_rnn.hpp>

#include <algorithm>
#include <memory>
#include <vector>

using namespace seqnet;

namespace {

constexpr Index kVocab = 7, kDim = 3, kSteps = 5, kBatch = 4;

SeqBatch<double> random_ids(std::uint64_t seed, Index vocab = kVocab, Index batch = kBatch) {
  Rng rng(seed);
  SeqBatch<double> ids;
  ids.batch = batch;
  ids.shape = Shape::ids(kSteps);
  ids.values.resize(kSteps * batch, 1);
  for (Index r = 0; r < ids.values.rows(); ++r)
    ids.values(r, 0) = static_cast<double>(rng.below(static_cast<std::uint64_t>(vocab)));
  return ids;
}

// Runs Embedding -> layer both ways (unfused, fused) in `mode` and compares outputs and every gradient.
void check_fused_equals_unfused(Layer<double>& layer, Mode mode, Index vocab = kVocab, Index batch = kBatch) {
  Embedding<double> emb(vocab, kDim);
  emb.build(Shape::ids(kSteps));
  layer.build(Shape::sequence(kSteps, kDim));
  Rng init(11);
  emb.initialize(init);
  layer.initialize(init);
  auto& rec = dynamic_cast<EmbeddingReader<double>&>(layer);
  const SeqBatch<double> ids = random_ids(3, vocab, batch);

  // Unfused: the Embedding materialises x = E[ids].
  rec.set_fused_embedding(nullptr);
  Rng r1(5);
  const SeqBatch<double>& x = emb.forward(ids, mode, &r1);
  const Matrix<double> y_ref = layer.forward(x, mode, &r1).values;
  Matrix<double> dE_ref, dW_ref;
  std::vector<Matrix<double>> g_ref;
  SeqBatch<double> dy;
  dy.batch = batch;
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
  REQUIRE(rec.fused_embedding() == &emb);
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

TEST_CASE("Fused embedding: a table of more than half the batch's rows is read at the batch's distinct ids",
          "[fused][distinct]") {
  // 30 > 20 / 2 table rows: P = E[distinct] W, and the repeated ids of the batch add up in the scatter.
  const Index vocab = 30;
  const SeqBatch<double> ids = random_ids(3, vocab);
  std::vector<double> v(ids.values.data(), ids.values.data() + ids.values.size());
  std::sort(v.begin(), v.end());
  REQUIRE(std::unique(v.begin(), v.end()) - v.begin() < ids.values.rows());
  for (Mode mode : {Mode::Train, Mode::Eval})
    for (bool back : {false, true}) {
      LSTMOptions lo;
      lo.return_sequences = back;
      lo.go_backwards = back;
      lo.recurrent_dropout = back ? 0.3 : 0.0;
      LSTM<double> l(4, lo);
      check_fused_equals_unfused(l, mode, vocab);
      GRUOptions go;
      go.reset_after = !back;
      go.go_backwards = back;
      GRU<double> g(3, go);
      check_fused_equals_unfused(g, mode, vocab);
      SimpleRNNOptions so;
      so.go_backwards = back;
      SimpleRNN<double> r(5, so);
      check_fused_equals_unfused(r, mode, vocab);
    }
}

TEST_CASE("Fused embedding: the backward over many distinct ids runs chunk by chunk", "[fused][distinct]") {
  // 300 rows of ids below 1,000: more than two chunks of distinct ids (detail::kDistinctChunk) and a shorter
  // last one, whose dW and dE (Recurrent::distinct_weight_grads) must match the Embedding layer's.
  const Index vocab = 1000, batch = 60;
  const SeqBatch<double> ids = random_ids(3, vocab, batch);
  const Index distinct = detail::count_distinct_ids(ids, vocab);
  REQUIRE(distinct > 2 * detail::kDistinctChunk);
  REQUIRE(distinct % detail::kDistinctChunk != 0);
  LSTM<double> l(4);
  check_fused_equals_unfused(l, Mode::Train, vocab, batch);
  GRU<double> g(3);
  check_fused_equals_unfused(g, Mode::Train, vocab, batch);
  SimpleRNNOptions so;
  so.go_backwards = true;
  SimpleRNN<double> r(5, so);
  check_fused_equals_unfused(r, Mode::Train, vocab, batch);
}

TEST_CASE("Fused embedding: distinct ids too many to gather from a transposed table, in evaluation",
          "[fused][distinct][eval]") {
  // 2,000 x 5 rows of 20,000 ids: about 7,900 distinct, times 32 gate columns of doubles is more than
  // Recurrent::kTransposedTableBytes, so evaluation gathers from P = E[distinct] W column by column.
  const Index vocab = 20000, batch = 2000;
  const Index distinct = detail::count_distinct_ids(random_ids(3, vocab, batch), vocab);
  REQUIRE(distinct * 32 * static_cast<Index>(sizeof(double)) > Recurrent<double>::kTransposedTableBytes);
  LSTMOptions o;
  o.return_sequences = true;
  LSTM<double> l(8, o);
  check_fused_equals_unfused(l, Mode::Eval, vocab, batch);
}

TEST_CASE("Fused embedding: Bidirectional reads the ids in both directions", "[fused][bidirectional]") {
  for (Index vocab : {kVocab, Index(30)})  // the whole table (2 V <= T*B), the distinct ids
    for (Mode mode : {Mode::Train, Mode::Eval})
      for (MergeMode merge : {MergeMode::Concat, MergeMode::Sum}) {
        LSTMOptions lo;
        lo.return_sequences = merge == MergeMode::Sum;
        Bidirectional<double> bl(LSTM<double>(4, lo), merge);
        check_fused_equals_unfused(bl, mode, vocab);
        Bidirectional<double> bg(GRU<double>(3), merge);
        check_fused_equals_unfused(bg, mode, vocab);
      }
}

TEST_CASE("Fused embedding: when the distinct ids pay off", "[fused][distinct]") {
  const Index vocab = 100, rows = kSteps * kBatch;
  auto batch = [&](auto id_of_row) {
    SeqBatch<double> x;
    x.batch = kBatch;
    x.shape = Shape::ids(kSteps);
    x.values.resize(rows, 1);
    for (Index r = 0; r < rows; ++r) x.values(r, 0) = id_of_row(r);
    return x;
  };
  const auto few = batch([](Index r) { return static_cast<double>(r % 5); });  // 5 distinct ids in 20 rows
  const auto all = batch([](Index r) { return static_cast<double>(r); });      // 20 distinct ids
  const auto bad = batch([&](Index r) { return r == 7 ? static_cast<double>(vocab) : 0.0; });
  const Index wide = Recurrent<double>::kDistinctMinFeatures;
  Embedding<double> emb(vocab, wide);
  emb.build(Shape::ids(kSteps));
  LSTM<double> l(2);
  l.build(Shape::sequence(kSteps, wide));
  CHECK_FALSE(l.fuses_embedding(Mode::Train, few));  // no table attached
  l.set_fused_embedding(&emb);
  CHECK(l.fuses_embedding(Mode::Train, few));  // 4 * 5 <= 3 * 20
  CHECK(l.fuses_embedding(Mode::Eval, few));
  CHECK_FALSE(l.fuses_embedding(Mode::Train, all));  // 4 * 20 > 3 * 20
  CHECK_FALSE(l.fuses_embedding(Mode::Train, bad));  // an invalid id: the Embedding reports it
  Rng rng(1);
  CHECK_THROWS_WITH(l.forward(bad, Mode::Train, &rng), Catch::Contains("token id 100 at sample 3, step 1"));

  Embedding<double> narrow_emb(vocab, wide - 1);
  narrow_emb.build(Shape::ids(kSteps));
  LSTM<double> narrow(2);
  narrow.build(Shape::sequence(kSteps, wide - 1));
  narrow.set_fused_embedding(&narrow_emb);
  CHECK_FALSE(narrow.fuses_embedding(Mode::Train, few));  // too few features for the products to pay

  // 9,000 distinct ids in 12,000 rows (4 U <= 3 T*B): read through a table of 9,000 x 8 gate columns and
  // through one of 9,000 x 512 (37 MB of doubles, beyond half of an L3 cache), not through one of
  // 9,000 x 1,024 (74 MB, more than kDistinctTableBytes).
  SeqBatch<double> many;
  many.batch = 2400;
  many.shape = Shape::ids(kSteps);
  many.values.resize(12000, 1);
  for (Index r = 0; r < 12000; ++r) many.values(r, 0) = static_cast<double>(r % 9000);
  Embedding<double> big_emb(10000, wide);
  big_emb.build(Shape::ids(kSteps));
  LSTM<double> small_units(2), mid_units(128), large_units(256);
  for (LSTM<double>* m : {&small_units, &mid_units, &large_units}) {
    m->build(Shape::sequence(kSteps, wide));
    m->set_fused_embedding(&big_emb);
  }
  REQUIRE(9000 * 1024 * static_cast<Index>(sizeof(double)) > Recurrent<double>::kDistinctTableBytes);
  CHECK(small_units.fuses_embedding(Mode::Train, many));
  CHECK(mid_units.fuses_embedding(Mode::Train, many));
  CHECK_FALSE(large_units.fuses_embedding(Mode::Train, many));
}

TEST_CASE("Fused embedding: recurrent dropout trains fused, input dropout only in inference", "[fused][dropout]") {
  LSTMOptions rd;
  rd.recurrent_dropout = 0.4;
  LSTM<double> a(4, rd);
  check_fused_equals_unfused(a, Mode::Train);  // the recurrent mask is drawn from the same Rng state

  LSTMOptions in;
  in.dropout = 0.3;
  LSTM<double> b(4, in);
  check_fused_equals_unfused(b, Mode::Eval);
  CHECK_FALSE(b.fuses_embedding(Mode::Train, random_ids(2)));
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
  CHECK(l.fuses_embedding(Mode::Eval, random_ids(1)));  // 2 V <= T*B

  Embedding<double> wide(kVocab, kDim + 1);
  wide.build(Shape::ids(kSteps));
  CHECK_THROWS_AS(l.set_fused_embedding(&wide), ShapeError);
}

#include <seqnet/layers/dense.hpp>
#include <seqnet/model/sequential.hpp>
#include <seqnet/optim/rmsprop.hpp>

namespace test_fused_embedding {

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

}  // namespace test_fused_embedding
