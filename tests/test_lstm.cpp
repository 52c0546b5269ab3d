#include "recurrent_helpers.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/lstm.hpp>

#include <cmath>

namespace test_lstm {

using namespace seqnet;
using namespace seqnet_test;

namespace {

double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// A plain per-sample LSTM written from the equations (Keras semantics), for comparison with the layer.
// Mx (B x D) and Mh (B x H) are the dropout masks (empty: none). Returns the output rows as the layer does.
Matrix<double> reference_lstm(LSTM<double>& l, const SeqBatch<double>& x, const Matrix<double>& Mx = {},
                              const Matrix<double>& Mh = {}) {
  const Matrix<double> W = l.param("kernel"), U = l.param("recurrent_kernel"), b = l.param("bias");
  const Index H = l.units(), B = x.batch, T = x.steps(), D = W.rows();
  const bool seq = l.return_sequences();
  Matrix<double> out = Matrix<double>::Zero(seq ? T * B : B, H);
  for (Index s = 0; s < B; ++s) {
    std::vector<double> h(H, 0.0), c(H, 0.0);
    for (Index k = 0; k < T; ++k) {
      const Index t = l.go_backwards() ? T - 1 - k : k;
      const Index row = t * B + s;
      if (!x.has_mask() || x.mask[static_cast<std::size_t>(row)]) {
        std::vector<double> z(4 * H);
        for (Index j = 0; j < 4 * H; ++j) {
          double v = b(0, j);
          for (Index d = 0; d < D; ++d) {
            const double xv = x.shape.encoding == Encoding::OneHot
                                  ? (static_cast<Index>(x.values(row, 0)) == d ? 1.0 : 0.0)
                                  : x.values(row, d);
            v += xv * (Mx.size() ? Mx(s, d) : 1.0) * W(d, j);
          }
          for (Index q = 0; q < H; ++q) v += h[q] * (Mh.size() ? Mh(s, q) : 1.0) * U(q, j);
          z[j] = v;
        }
        for (Index j = 0; j < H; ++j) {
          const double i = sig(z[j]), f = sig(z[H + j]), g = std::tanh(z[2 * H + j]), o = sig(z[3 * H + j]);
          c[j] = f * c[j] + i * g;
          h[j] = o * std::tanh(c[j]);
        }
      }
      if (seq)
        for (Index j = 0; j < H; ++j) out(k * B + s, j) = h[j];
    }
    if (!seq)
      for (Index j = 0; j < H; ++j) out(s, j) = h[j];
  }
  return out;
}

LSTMOptions opts(bool seq, bool back, double dp = 0.0, double rdp = 0.0) {
  LSTMOptions o;
  o.return_sequences = seq;
  o.go_backwards = back;
  o.dropout = dp;
  o.recurrent_dropout = rdp;
  return o;
}

}  // namespace

TEST_CASE("LSTM: parameter counts and Keras shapes", "[lstm]") {
  LSTM<float> a(8);
  CHECK(a.build(Shape::sequence(100, 16)) == Shape::vector(8));
  CHECK(a.num_params() == 800);
  LSTM<float> b(8, opts(true, false));
  CHECK(b.build(Shape::sequence(100, 8)) == Shape::sequence(100, 8));
  CHECK(b.num_params() == 544);
  REQUIRE(a.param_specs().size() == 3);
  CHECK(a.param_specs()[0].name == "kernel");
  CHECK(a.param_specs()[0].rows == 16);
  CHECK(a.param_specs()[0].cols == 32);
  CHECK(a.param_specs()[1].name == "recurrent_kernel");
  CHECK(a.param_specs()[1].rows == 8);
  CHECK(a.param_specs()[2].name == "bias");
  CHECK(a.param_specs()[2].rows == 1);
}

TEST_CASE("LSTM: unit_forget_bias puts ones in the forget block only", "[lstm]") {
  LSTM<double> l(3);
  l.build(Shape::sequence(2, 4));
  Rng rng(1);
  l.initialize(rng);
  const auto& b = l.param("bias");
  for (Index j = 0; j < 12; ++j) CHECK(b(0, j) == (j >= 3 && j < 6 ? 1.0 : 0.0));
  LSTMOptions o;
  o.unit_forget_bias = false;
  LSTM<double> z(3, o);
  z.build(Shape::sequence(2, 4));
  z.initialize(rng);
  CHECK(z.param("bias").isZero());
}

TEST_CASE("LSTM: forward by hand with one block of weights", "[lstm]") {
  // Only the candidate kernel is non-zero; the input and output gates are saturated open (bias 40) and the
  // forget gate shut (bias -40), so c_t = tanh(w x_t) and h_t = tanh(tanh(w x_t)).
  LSTMOptions o = opts(true, false);
  LSTM<double> l(1, o);
  l.build(Shape::sequence(3, 1));
  l.param("kernel") << 0, 0, 0.7, 0;
  l.param("recurrent_kernel").setZero();
  l.param("bias") << 40, -40, 0, 40;
  const auto x = make_batch<double>(3, 1, 1, [](Index t, Index, Index) { return 0.5 * (t + 1); });
  const auto& y = l.forward(x, Mode::Eval);
  for (Index t = 0; t < 3; ++t)
    CHECK(y.values(t, 0) == Approx(std::tanh(std::tanh(0.7 * 0.5 * (t + 1)))).epsilon(1e-12));

  // All weights zero except the forget bias: every gate is 1/2 except f; c stays 0, so h stays 0; now add a
  // candidate bias: c_t = f c_{t-1} + g / 2 with g = tanh(1), f = sigmoid(2).
  l.param("kernel").setZero();
  l.param("bias") << 0, 2, 1, 0;
  const auto& y2 = l.forward(x, Mode::Eval);
  double c = 0;
  for (Index t = 0; t < 3; ++t) {
    c = sig(2) * c + 0.5 * std::tanh(1.0);
    CHECK(y2.values(t, 0) == Approx(0.5 * std::tanh(c)).epsilon(1e-12));
  }
}

TEST_CASE("LSTM: forward matches a per-sample reference", "[lstm]") {
  for (bool seq : {false, true}) {
    for (bool back : {false, true}) {
      LSTM<double> l(3, opts(seq, back));
      l.build(Shape::sequence(5, 4));
      randomize(l, 3);
      const auto x = random_batch(Shape::sequence(5, 4), 3, 4);
      INFO("return_sequences " << seq << " go_backwards " << back);
      const Matrix<double> ref = reference_lstm(l, x);
      CHECK(l.forward(x, Mode::Eval).values.isApprox(ref, 1e-12));
      Rng rng(1);
      CHECK(l.forward(x, Mode::Train, &rng).values.isApprox(ref, 1e-12));
    }
  }
}

TEST_CASE("LSTM: large hidden size matches the reference", "[lstm]") {
  LSTM<double> l(40, opts(true, true));
  l.build(Shape::sequence(3, 5));
  randomize(l, 8, 0.2);
  const auto x = random_batch(Shape::sequence(3, 5), 2, 4);
  CHECK(l.forward(x, Mode::Eval).values.isApprox(reference_lstm(l, x), 1e-12));
}

TEST_CASE("LSTM: dropout masks are one per sequence, drawn from the Rng, as Keras", "[lstm][dropout]") {
  LSTM<double> l(3, opts(true, false, 0.4, 0.3));
  l.build(Shape::sequence(4, 5));
  randomize(l, 5);
  const auto x = random_batch(Shape::sequence(4, 5), 3, 6);
  // The masks the layer draws: M_x (B x D, column by column), then M_h (B x H).
  Rng draw(11);
  Matrix<double> Mx(3, 5), Mh(3, 3);
  for (Index i = 0; i < Mx.size(); ++i) Mx.data()[i] = draw.uniform() < 0.4 ? 0.0 : 1.0 / 0.6;
  for (Index i = 0; i < Mh.size(); ++i) Mh.data()[i] = draw.uniform() < 0.3 ? 0.0 : 1.0 / 0.7;
  Rng rng(11);
  CHECK(l.forward(x, Mode::Train, &rng).values.isApprox(reference_lstm(l, x, Mx, Mh), 1e-12));
  // Eval ignores dropout; Train without an Rng is an error.
  CHECK(l.forward(x, Mode::Eval).values.isApprox(reference_lstm(l, x), 1e-12));
  CHECK_THROWS_WITH(l.forward(x, Mode::Train), Catch::Contains("needs an Rng"));
}

TEST_CASE("LSTM: backward matches finite differences", "[lstm][gradcheck]") {
  struct Case {
    bool seq, back;
    double dp, rdp;
    bool mask;
  };
  for (const Case& c : {Case{false, false, 0, 0, false}, Case{true, false, 0, 0, false}, Case{false, true, 0, 0, false},
                        Case{true, true, 0, 0, false}, Case{true, false, 0, 0, true}, Case{false, true, 0, 0, true},
                        Case{true, false, 0.3, 0.4, false}, Case{false, true, 0.3, 0.4, true}}) {
    LSTM<double> l(3, opts(c.seq, c.back, c.dp, c.rdp));
    l.build(Shape::sequence(4, 3));
    randomize(l, 21);
    auto x = random_batch(Shape::sequence(4, 3), 3, 5);
    if (c.mask) x.mask = {1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1};  // sample 0 post-padded, sample 2 pre-padded
    const auto rep = gradcheck(l, x);
    INFO("seq " << c.seq << " back " << c.back << " dropout " << c.dp << "/" << c.rdp << " mask " << c.mask
                << " worst at " << rep.worst_where);
    CHECK(rep.checked > 0);
    CHECK(rep.worst < 1e-6);
  }
}

TEST_CASE("LSTM: backward matches finite differences on one-hot input and at H = 10", "[lstm][gradcheck]") {
  {
    LSTM<double> l(2, opts(true, false, 0.25, 0.0));
    l.build(Shape::one_hot(3, 6));
    randomize(l, 4);
    const auto rep = gradcheck(l, random_batch(Shape::one_hot(3, 6), 2, 7));
    INFO("one-hot worst at " << rep.worst_where);
    CHECK(rep.checked == 6 * 8 + 2 * 8 + 8);  // parameters only: no gradient for ids
    CHECK(rep.worst < 1e-6);
  }
  {
    // H = 10: 40 gate columns and K = 10 in the recurrent products (tiles and tails). Some gradients
    // here are near 1e-6, where the rounding noise of a 1e-6 step exceeds the tolerance: step 1e-5.
    LSTM<double> l(10, opts(true, true));
    l.build(Shape::sequence(3, 2));
    randomize(l, 6, 0.6);
    const auto rep = gradcheck(l, random_batch(Shape::sequence(3, 2), 2, 8), 7, 1e-5);
    INFO("H = 10 worst at " << rep.worst_where);
    CHECK(rep.worst < 1e-6);
  }
}

TEST_CASE("LSTM: backward matches finite differences at a batch of whole SIMD packets and a tail",
          "[lstm][gradcheck]") {
  // 19 rows: two packets of 8 doubles and 3 single rows (one packet and 11 rows at 4 doubles per packet) in
  // the pass that computes dG and sums the bias gradient on the way; both directions, with and without
  // return_sequences.
  for (const LSTMOptions& o : {opts(false, false), opts(true, true)}) {
    LSTM<double> l(3, o);
    l.build(Shape::sequence(3, 2));
    randomize(l, 12);
    const auto rep = gradcheck(l, random_batch(Shape::sequence(3, 2), 19, 13));
    INFO("return_sequences " << o.return_sequences << " worst at " << rep.worst_where);
    CHECK(rep.checked == 19 * 3 * 2 + 2 * 12 + 3 * 12 + 12);
    CHECK(rep.worst < 1e-6);
  }
}

TEST_CASE("LSTM: one backward per forward, and a new forward gives the same gradients again", "[lstm]") {
  // The backward writes the gate gradients over the forward's gates: a second backward is refused, and the
  // next forward rebuilds the cache completely.
  LSTM<float> l(17);
  l.build(Shape::sequence(6, 5));
  randomize(l, 3);
  SeqBatch<float> x;
  x.batch = 21;
  x.shape = Shape::sequence(6, 5);
  x.values = random_batch(x.shape, 21, 8).values.cast<float>();
  SeqBatch<float> dy;
  dy.batch = 21;
  dy.shape = l.output_shape();
  dy.values = random_batch(Shape::vector(17), 21, 9).values.cast<float>();
  l.forward(x, Mode::Train);
  l.zero_grad();
  l.backward(dy);
  std::vector<Matrix<float>> first;
  for (auto& p : l.params()) first.push_back(p.grad);
  CHECK_THROWS_WITH(l.backward(dy), Catch::Contains("LSTM 'lstm': backward() needs a preceding forward()") &&
                                        Catch::Contains("one backward per forward"));
  l.forward(x, Mode::Train);
  l.zero_grad();
  l.backward(dy);
  const auto again = l.params();
  for (std::size_t k = 0; k < first.size(); ++k) {
    INFO("parameter " << again[k].spec->name);
    CHECK(again[k].grad == first[k]);
  }
}

TEST_CASE("LSTM: two stacked layers backpropagate through each other", "[lstm][gradcheck]") {
  Stack2<double> st(std::make_unique<LSTM<double>>(3, opts(true, false, 0.2, 0.2)),
                    std::make_unique<LSTM<double>>(2, opts(false, false, 0.0, 0.3)));
  st.build(Shape::sequence(4, 3));
  randomize(st, 6);
  auto x = random_batch(Shape::sequence(4, 3), 2, 9);
  x.mask = {1, 0, 1, 0, 1, 1, 1, 1};
  const auto rep = gradcheck(st, x);
  INFO("worst at " << rep.worst_where);
  CHECK(rep.worst < 1e-6);
}

TEST_CASE("LSTM: a padded, masked sequence gives the unpadded result", "[lstm][mask]") {
  // One-hot input (a gather, no GEMM) gives bit-identical results; dense input agrees to the rounding of the
  // input projection GEMM, which Eigen may block differently for a different number of rows. (Bit-identity
  // also needs the batch size to be a multiple of the SIMD width, here 2 doubles, so that Eigen vectorises
  // the same rows of every step block the same way.)
  for (bool onehot : {true, false}) {
    const Shape s5 = onehot ? Shape::one_hot(5, 6) : Shape::sequence(5, 3);
    Shape s8 = s5;
    s8.steps = 8;
    for (bool back : {false, true}) {
      LSTM<double> l(4, opts(false, back));
      l.build(s5);
      randomize(l, 12);
      const auto x = random_batch(s5, 4, 13);
      const Matrix<double> plain = l.forward(x, Mode::Eval).values;
      for (bool pre : {true, false}) {
        LSTM<double> p(4, opts(false, back));
        p.build(s8);
        copy_params(l, p);
        const auto xp = pad_with_mask(x, 3, pre);
        INFO("one-hot " << onehot << " go_backwards " << back << " pre " << pre);
        const Matrix<double> ye = p.forward(xp, Mode::Eval).values;
        Rng rng(1);
        const Matrix<double> yt = p.forward(xp, Mode::Train, &rng).values;
        if (onehot) {
          CHECK(ye == plain);
          CHECK(yt == plain);
        } else {
          CHECK(ye.isApprox(plain, 1e-14));
          CHECK(yt.isApprox(plain, 1e-14));
        }
      }
    }
  }
}

TEST_CASE("LSTM: masks at the output with return_sequences", "[lstm][mask]") {
  LSTM<double> l(2, opts(true, false));
  l.build(Shape::sequence(3, 2));
  randomize(l, 2);
  auto x = random_batch(Shape::sequence(3, 2), 2, 3);
  x.mask = {1, 1, 0, 1, 1, 0};
  const auto& y = l.forward(x, Mode::Eval);
  CHECK(y.mask == x.mask);
  // A masked step repeats the carried state (sample 0 at step 1; sample 1 at step 2).
  CHECK(y.values.row(2) == y.values.row(0));
  CHECK(y.values.row(5) == y.values.row(3));
  CHECK(y.values.isApprox(reference_lstm(l, x), 1e-12));
  LSTM<double> last(2);
  last.build(Shape::sequence(3, 2));
  copy_params(l, last);
  CHECK(last.forward(x, Mode::Eval).mask.empty());
}

TEST_CASE("LSTM: one-hot input equals the dense one-hot tensor", "[lstm][onehot]") {
  LSTM<double> a(3, opts(true, false, 0.3, 0.0)), b(3, opts(true, false, 0.3, 0.0));
  a.build(Shape::one_hot(4, 7));
  b.build(Shape::sequence(4, 7));
  randomize(a, 3);
  copy_params(a, b);
  const auto ids = random_batch(Shape::one_hot(4, 7), 3, 2);
  CHECK(a.forward(ids, Mode::Eval).values.isApprox(b.forward(densify(ids), Mode::Eval).values, 1e-14));
  Rng r1(5), r2(5);
  CHECK(a.forward(ids, Mode::Train, &r1).values.isApprox(b.forward(densify(ids), Mode::Train, &r2).values, 1e-14));
}

TEST_CASE("LSTM: float forward agrees with double", "[lstm][float]") {
  LSTM<double> d(8, opts(true, false));
  LSTM<float> f(8, opts(true, false));
  d.build(Shape::sequence(20, 6));
  f.build(Shape::sequence(20, 6));
  Rng rng(4);
  d.initialize(rng);
  copy_params(d, f);
  const auto x = random_batch(Shape::sequence(20, 6), 5, 1);
  SeqBatch<float> xf;
  xf.batch = 5;
  xf.shape = x.shape;
  xf.values = x.values.cast<float>();
  const Matrix<double> yd = d.forward(x, Mode::Eval).values;
  const Matrix<double> yf = f.forward(xf, Mode::Eval).values.cast<double>();
  CHECK((yd - yf).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("LSTM: the fused float step agrees with double on every row path", "[lstm][float]") {
  // 53 rows: blocks of two SIMD packets, one packet and single rows at any packet size up to 16 floats.
  // H = 3, 8, 16 take the fused step in float; H = 17 the product (small_gemm), then the same pass without it
  // (lstm_cell_fused). Training with recurrent dropout and backwards reading too: the backward reads the
  // gates, cells and states the forward stored.
  for (Index H : {3, 8, 16, 17}) {
    for (const LSTMOptions& o : {opts(true, false), opts(false, true, 0.0, 0.3)}) {
      INFO("H " << H << " go_backwards " << o.go_backwards << " recurrent dropout " << o.recurrent_dropout);
      CHECK(float_double_gap<LSTM>(H, o, 6, 53, 5, Mode::Eval) < 2e-5);
      CHECK(float_double_gap<LSTM>(H, o, 6, 53, 5, Mode::Train) < 2e-4);
    }
  }
}

TEST_CASE("LSTM: configuration round trip", "[lstm][config]") {
  LSTMOptions o = opts(true, true, 0.25, 0.5);
  o.unit_forget_bias = false;
  o.recurrent_activation = Activation::Tanh;
  LSTM<float> l(5, o);
  const auto back = LSTM<float>::from_config(l.config());
  CHECK(back->config() == l.config());
  CHECK(back->type_name() == "LSTM");
  CHECK(l.clone_unbuilt()->config() == l.config());
  const auto rev = l.clone_reversed();
  CHECK(rev->config().get_bool("go_backwards") == false);
}

TEST_CASE("LSTM: bad settings and input are refused with a clear message", "[lstm][errors]") {
  CHECK_THROWS_WITH(LSTM<float>(0), Catch::Contains("LSTM: units must be positive"));
  CHECK_THROWS_WITH(LSTM<float>(4, opts(false, false, 1.0)), Catch::Contains("dropout must be in [0, 1)"));
  CHECK_THROWS_WITH(LSTM<float>(4, opts(false, false, -0.1)), Catch::Contains("dropout"));
  CHECK_THROWS_WITH(LSTM<float>(4, opts(false, false, 0.0, 1.5)), Catch::Contains("recurrent_dropout"));
  LSTMOptions sm;
  sm.activation = Activation::Softmax;
  CHECK_THROWS_AS(LSTM<float>(4, sm), InvalidArgument);
  LSTM<float> ids(4);
  CHECK_THROWS_WITH(ids.build(Shape::ids(10)), Catch::Contains("put an Embedding first"));
  LSTM<float> vec(4);
  CHECK_THROWS_WITH(vec.build(Shape::vector(3)), Catch::Contains("needs a sequence"));
  LSTM<float> l(4);
  l.build(Shape::sequence(5, 16));
  SeqBatch<float> x;
  x.batch = 2;
  x.shape = Shape::sequence(5, 12);
  x.values.resize(10, 12);
  CHECK_THROWS_WITH(l.forward(x, Mode::Eval), Catch::Contains("LSTM 'lstm'"));
  SeqBatch<float> dy;
  CHECK_THROWS_WITH(l.backward(dy), Catch::Contains("needs a preceding forward"));
  LSTM<float> oh(2);
  oh.build(Shape::one_hot(2, 4));
  SeqBatch<float> bad;
  bad.batch = 1;
  bad.shape = Shape::one_hot(2, 4);
  bad.values.resize(2, 1);
  bad.values << 1, 4;
  CHECK_THROWS_WITH(oh.forward(bad, Mode::Eval), Catch::Contains("token id 4 at sample 0, step 1"));
}

}  // namespace test_lstm
