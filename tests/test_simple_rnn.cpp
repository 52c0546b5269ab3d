#include "recurrent_helpers.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/simple_rnn.hpp>

#include <cmath>

namespace test_simple_rnn {

using namespace seqnet;
using namespace seqnet_test;

namespace {

SimpleRNNOptions opts(bool seq, bool back, double dp = 0.0, double rdp = 0.0) {
  SimpleRNNOptions o;
  o.return_sequences = seq;
  o.go_backwards = back;
  o.dropout = dp;
  o.recurrent_dropout = rdp;
  return o;
}

// h_t = tanh(x_t W + b + (h_{t-1} .* Mh) U) per sample, from the equation.
Matrix<double> reference_rnn(SimpleRNN<double>& l, const SeqBatch<double>& x, const Matrix<double>& Mx = {},
                             const Matrix<double>& Mh = {}) {
  const Matrix<double> W = l.param("kernel"), U = l.param("recurrent_kernel"), b = l.param("bias");
  const Index H = l.units(), B = x.batch, T = x.steps(), D = W.rows();
  Matrix<double> out = Matrix<double>::Zero(l.return_sequences() ? T * B : B, H);
  for (Index s = 0; s < B; ++s) {
    std::vector<double> h(H, 0.0), n(H);
    for (Index k = 0; k < T; ++k) {
      const Index t = l.go_backwards() ? T - 1 - k : k, row = t * B + s;
      if (!x.has_mask() || x.mask[static_cast<std::size_t>(row)]) {
        for (Index j = 0; j < H; ++j) {
          double v = b(0, j);
          for (Index d = 0; d < D; ++d) v += x.values(row, d) * (Mx.size() ? Mx(s, d) : 1.0) * W(d, j);
          for (Index q = 0; q < H; ++q) v += h[q] * (Mh.size() ? Mh(s, q) : 1.0) * U(q, j);
          n[j] = std::tanh(v);
        }
        h = n;
      }
      if (l.return_sequences())
        for (Index j = 0; j < H; ++j) out(k * B + s, j) = h[j];
    }
    if (!l.return_sequences())
      for (Index j = 0; j < H; ++j) out(s, j) = h[j];
  }
  return out;
}

}  // namespace

TEST_CASE("SimpleRNN: parameter counts of the chapter", "[simple_rnn]") {
  SimpleRNN<float> onehot(8);
  CHECK(onehot.build(Shape::one_hot(100, 500)) == Shape::vector(8));
  CHECK(onehot.num_params() == 4072);
  SimpleRNN<float> emb(8);
  emb.build(Shape::sequence(100, 16));
  CHECK(emb.num_params() == 200);
  REQUIRE(emb.param_specs().size() == 3);
  CHECK(emb.param_specs()[1].name == "recurrent_kernel");
  CHECK(emb.param_specs()[1].rows == 8);
  CHECK(emb.param_specs()[1].cols == 8);
}

TEST_CASE("SimpleRNN: one unit over three steps by hand", "[simple_rnn]") {
  SimpleRNN<double> l(1, opts(true, false));
  l.build(Shape::sequence(3, 1));
  l.param("kernel")(0, 0) = 0.5;
  l.param("recurrent_kernel")(0, 0) = -1.0;
  l.param("bias")(0, 0) = 0.1;
  const auto x =
      make_batch<double>(3, 1, 1, [](Index t, Index, Index) { return t == 0 ? 1.0 : (t == 1 ? 2.0 : -1.0); });
  const auto& y = l.forward(x, Mode::Eval);
  const double h1 = std::tanh(0.5 * 1 + 0.1);       // 0.537050
  const double h2 = std::tanh(0.5 * 2 + 0.1 - h1);  // tanh(0.562950)
  const double h3 = std::tanh(-0.5 + 0.1 - h2);
  CHECK(y.values(0, 0) == Approx(0.5370495669980353).epsilon(1e-14));
  CHECK(y.values(1, 0) == Approx(h2).epsilon(1e-14));
  CHECK(y.values(2, 0) == Approx(h3).epsilon(1e-14));
  // go_backwards reads -1, 2, 1 and outputs in that processing order.
  SimpleRNN<double> b(1, opts(true, true));
  b.build(Shape::sequence(3, 1));
  copy_params(l, b);
  const auto& yb = b.forward(x, Mode::Eval);
  const double g1 = std::tanh(-0.5 + 0.1), g2 = std::tanh(1.0 + 0.1 - g1), g3 = std::tanh(0.5 + 0.1 - g2);
  CHECK(yb.values(0, 0) == Approx(g1).epsilon(1e-14));
  CHECK(yb.values(1, 0) == Approx(g2).epsilon(1e-14));
  CHECK(yb.values(2, 0) == Approx(g3).epsilon(1e-14));
}

TEST_CASE("SimpleRNN: forward matches a per-sample reference, with dropout masks as Keras", "[simple_rnn]") {
  for (bool seq : {false, true})
    for (bool back : {false, true}) {
      SimpleRNN<double> l(4, opts(seq, back, 0.3, 0.2));
      l.build(Shape::sequence(5, 3));
      randomize(l, 2);
      auto x = random_batch(Shape::sequence(5, 3), 3, 4);
      x.mask = {1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1};
      CHECK(l.forward(x, Mode::Eval).values.isApprox(reference_rnn(l, x), 1e-12));
      Rng draw(3);
      Matrix<double> Mx(3, 3), Mh(3, 4);
      for (Index i = 0; i < Mx.size(); ++i) Mx.data()[i] = draw.uniform() < 0.3 ? 0.0 : 1.0 / 0.7;
      for (Index i = 0; i < Mh.size(); ++i) Mh.data()[i] = draw.uniform() < 0.2 ? 0.0 : 1.0 / 0.8;
      Rng rng(3);
      CHECK(l.forward(x, Mode::Train, &rng).values.isApprox(reference_rnn(l, x, Mx, Mh), 1e-12));
    }
}

TEST_CASE("SimpleRNN: backward matches finite differences", "[simple_rnn][gradcheck]") {
  struct Case {
    bool seq, back;
    double dp, rdp;
    bool mask;
    Index units;
    Activation act;
  };
  // tanh without a mask takes the column-by-column step; other activations or a mask the block expressions.
  const Activation tanh = Activation::Tanh, lin = Activation::Linear, sig = Activation::Sigmoid;
  for (const Case& c : {Case{false, false, 0, 0, false, 3, tanh}, Case{true, false, 0, 0, false, 3, tanh},
                        Case{true, true, 0, 0, true, 3, tanh}, Case{false, true, 0.3, 0.3, true, 3, tanh},
                        Case{true, false, 0.2, 0.4, false, 3, tanh}, Case{true, true, 0.0, 0.3, true, 12, tanh},
                        Case{true, true, 0.0, 0.3, false, 5, tanh}, Case{true, false, 0.0, 0.0, false, 3, sig},
                        Case{false, true, 0.0, 0.2, false, 3, lin}, Case{true, false, 0.0, 0.0, true, 3, sig}}) {
    SimpleRNNOptions o = opts(c.seq, c.back, c.dp, c.rdp);
    o.activation = c.act;
    SimpleRNN<double> l(c.units, o);
    l.build(Shape::sequence(4, 3));
    randomize(l, 7, 0.5);
    auto x = random_batch(Shape::sequence(4, 3), 2, 5);
    if (c.mask) x.mask = {0, 1, 1, 1, 1, 0, 1, 0};
    const auto rep = gradcheck(l, x);
    INFO("seq " << c.seq << " back " << c.back << " dropout " << c.dp << "/" << c.rdp << " mask " << c.mask << " units "
                << c.units << " activation " << to_string(c.act) << " worst at " << rep.worst_where);
    CHECK(rep.checked > 0);
    CHECK(rep.worst < 1e-6);
  }
}

TEST_CASE("SimpleRNN: backward on one-hot input and through a stack", "[simple_rnn][gradcheck]") {
  SimpleRNN<double> l(3, opts(false, false, 0.3, 0.0));
  l.build(Shape::one_hot(4, 5));
  randomize(l, 1);
  auto rep = gradcheck(l, random_batch(Shape::one_hot(4, 5), 3, 2));
  INFO("one-hot worst at " << rep.worst_where);
  CHECK(rep.checked == 5 * 3 + 3 * 3 + 3);
  CHECK(rep.worst < 1e-6);

  Stack2<double> st(std::make_unique<SimpleRNN<double>>(3, opts(true, true, 0.0, 0.2)),
                    std::make_unique<SimpleRNN<double>>(2, opts(false, false, 0.2, 0.0)));
  st.build(Shape::sequence(3, 2));
  randomize(st, 2);
  rep = gradcheck(st, random_batch(Shape::sequence(3, 2), 2, 3));
  INFO("stack worst at " << rep.worst_where);
  CHECK(rep.worst < 1e-6);
}

TEST_CASE("SimpleRNN: padded and masked equals unpadded, and one-hot equals dense one-hot",
          "[simple_rnn][mask][onehot]") {
  SimpleRNN<double> l(3), p(3);
  l.build(Shape::one_hot(4, 9));
  p.build(Shape::one_hot(7, 9));
  randomize(l, 5);
  copy_params(l, p);
  const auto x = random_batch(Shape::one_hot(4, 9), 2, 6);
  const Matrix<double> plain = l.forward(x, Mode::Eval).values;
  CHECK(p.forward(pad_with_mask(x, 3, true), Mode::Eval).values == plain);
  CHECK(p.forward(pad_with_mask(x, 3, false), Mode::Eval).values == plain);
  SimpleRNN<double> d(3);
  d.build(Shape::sequence(4, 9));
  copy_params(l, d);
  CHECK(d.forward(densify(x), Mode::Eval).values.isApprox(plain, 1e-14));
}

TEST_CASE("SimpleRNN: float forward agrees with double", "[simple_rnn][float]") {
  SimpleRNN<double> d(8, opts(true, false));
  SimpleRNN<float> f(8, opts(true, false));
  d.build(Shape::sequence(30, 4));
  f.build(Shape::sequence(30, 4));
  Rng rng(2);
  d.initialize(rng);
  copy_params(d, f);
  const auto x = random_batch(Shape::sequence(30, 4), 3, 1);
  SeqBatch<float> xf;
  xf.batch = 3;
  xf.shape = x.shape;
  xf.values = x.values.cast<float>();
  CHECK((d.forward(x, Mode::Eval).values - f.forward(xf, Mode::Eval).values.cast<double>()).cwiseAbs().maxCoeff() <
        1e-5);
}

TEST_CASE("SimpleRNN: the fused float step agrees with double on every row path", "[simple_rnn][float]") {
  // As for the LSTM: 53 rows reach every row path of the fused step (H <= 16, tanh, float), and H = 3, 6, 8
  // and 16 every unit path (groups of 4 units, single units after them); H = 17 and the relu activation take
  // the unfused one.
  SimpleRNNOptions relu = opts(true, false);
  relu.activation = Activation::Relu;
  for (Index H : {3, 6, 8, 16, 17}) {
    for (const SimpleRNNOptions& o : {opts(true, false), opts(false, true, 0.0, 0.3), relu}) {
      INFO("H " << H << " go_backwards " << o.go_backwards << " recurrent dropout " << o.recurrent_dropout
                << " activation " << to_string(o.activation));
      CHECK(float_double_gap<SimpleRNN>(H, o, 6, 53, 5, Mode::Eval) < 2e-5);
      CHECK(float_double_gap<SimpleRNN>(H, o, 6, 53, 5, Mode::Train) < 2e-4);
    }
  }
}

TEST_CASE("SimpleRNN: configuration round trip and errors", "[simple_rnn][errors]") {
  SimpleRNNOptions o = opts(true, true, 0.1, 0.2);
  o.activation = Activation::Relu;
  SimpleRNN<float> l(6, o);
  CHECK(SimpleRNN<float>::from_config(l.config())->config() == l.config());
  CHECK_FALSE(l.config().has("recurrent_activation"));
  CHECK_THROWS_WITH(SimpleRNN<float>(-1), Catch::Contains("SimpleRNN: units must be positive"));
  CHECK_THROWS_AS(SimpleRNN<float>(2, opts(false, false, 0.0, 1.0)), InvalidArgument);
  SimpleRNN<float> ids(2);
  CHECK_THROWS_AS(ids.build(Shape::ids(5)), ShapeError);
  SimpleRNN<float> w(2);
  w.build(Shape::sequence(3, 4));
  SeqBatch<float> x;
  x.batch = 1;
  x.shape = Shape::sequence(3, 4);
  x.values.resize(3, 4);
  x.mask = {1, 1};
  CHECK_THROWS_WITH(w.forward(x, Mode::Eval), Catch::Contains("mask has 2 entries, expected 3"));
}

}  // namespace test_simple_rnn
