#include "recurrent_helpers.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/gru.hpp>

#include <cmath>

namespace test_gru {

using namespace seqnet;
using namespace seqnet_test;

namespace {

double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

GRUOptions opts(bool seq, bool back, double dp = 0.0, double rdp = 0.0, bool reset_after = true) {
  GRUOptions o;
  o.return_sequences = seq;
  o.go_backwards = back;
  o.dropout = dp;
  o.recurrent_dropout = rdp;
  o.reset_after = reset_after;
  return o;
}

// Keras' GRU (implementation 2) per sample, from the equations; the final mix uses the dropped h_{t-1}.
Matrix<double> reference_gru(GRU<double>& l, const SeqBatch<double>& x, const Matrix<double>& Mx = {},
                             const Matrix<double>& Mh = {}) {
  const Matrix<double> W = l.param("kernel"), U = l.param("recurrent_kernel"), b = l.param("bias");
  const Index H = l.units(), B = x.batch, T = x.steps(), D = W.rows();
  const bool ra = l.reset_after();
  Matrix<double> out = Matrix<double>::Zero(l.return_sequences() ? T * B : B, H);
  for (Index s = 0; s < B; ++s) {
    std::vector<double> h(H, 0.0), hd(H), n(H), gx(3 * H), z(H), r(H), rh(H);
    for (Index k = 0; k < T; ++k) {
      const Index t = l.go_backwards() ? T - 1 - k : k, row = t * B + s;
      if (!x.has_mask() || x.mask[static_cast<std::size_t>(row)]) {
        for (Index q = 0; q < H; ++q) hd[q] = h[q] * (Mh.size() ? Mh(s, q) : 1.0);
        for (Index j = 0; j < 3 * H; ++j) {
          gx[j] = b(0, j);
          for (Index d = 0; d < D; ++d) gx[j] += x.values(row, d) * (Mx.size() ? Mx(s, d) : 1.0) * W(d, j);
        }
        auto rec = [&](Index j, const std::vector<double>& v) {
          double a = 0;
          for (Index q = 0; q < H; ++q) a += v[q] * U(q, j);
          return a;
        };
        for (Index j = 0; j < H; ++j) {
          z[j] = sig(gx[j] + rec(j, hd) + (ra ? b(1, j) : 0.0));
          r[j] = sig(gx[H + j] + rec(H + j, hd) + (ra ? b(1, H + j) : 0.0));
        }
        for (Index q = 0; q < H; ++q) rh[q] = r[q] * hd[q];
        for (Index j = 0; j < H; ++j) {
          const double hh = ra ? std::tanh(gx[2 * H + j] + r[j] * (rec(2 * H + j, hd) + b(1, 2 * H + j)))
                               : std::tanh(gx[2 * H + j] + rec(2 * H + j, rh));
          n[j] = z[j] * hd[j] + (1 - z[j]) * hh;
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

TEST_CASE("GRU: parameter counts and Keras shapes", "[gru]") {
  GRU<float> a(8);
  a.build(Shape::sequence(100, 16));
  CHECK(a.num_params() == 624);
  REQUIRE(a.param_specs().size() == 3);
  CHECK(a.param_specs()[2].rows == 2);
  CHECK(a.param_specs()[2].cols == 24);
  GRU<float> b(8, opts(false, false, 0, 0, false));
  b.build(Shape::sequence(100, 16));
  CHECK(b.num_params() == 3 * (16 * 8 + 64 + 8));
  CHECK(b.param_specs()[2].rows == 1);
}

TEST_CASE("GRU: forward by hand with one block of weights", "[gru]") {
  // z shut (bias -40), r open: h_t = tanh(w x_t + r * (u h_{t-1} + rb_h)) with the recurrent bias 0.
  GRU<double> l(1, opts(true, false));
  l.build(Shape::sequence(3, 1));
  l.param("kernel") << 0, 0, 0.8;
  l.param("recurrent_kernel") << 0, 0, 0.5;
  l.param("bias") << -40, 40, 0, 0, 0, 0;
  const auto x = make_batch<double>(3, 1, 1, [](Index t, Index, Index) { return t - 1.0; });
  const auto& y = l.forward(x, Mode::Eval);
  double h = 0;
  for (Index t = 0; t < 3; ++t) {
    h = std::tanh(0.8 * (t - 1.0) + 0.5 * h);
    CHECK(y.values(t, 0) == Approx(h).epsilon(1e-12));
  }
  // With z = 1/2 (all zero but the candidate input weight): h_t = h_{t-1} / 2 + tanh(0.8 x_t) / 2.
  l.param("recurrent_kernel").setZero();
  l.param("bias").setZero();
  const auto& y2 = l.forward(x, Mode::Eval);
  h = 0;
  for (Index t = 0; t < 3; ++t) {
    h = 0.5 * h + 0.5 * std::tanh(0.8 * (t - 1.0));
    CHECK(y2.values(t, 0) == Approx(h).epsilon(1e-12));
  }
}

TEST_CASE("GRU: forward matches a per-sample reference, with Keras' dropout placement", "[gru]") {
  // Without a mask and with reset_after, the step takes the column-by-column path.
  for (bool reset_after : {true, false})
    for (bool seq : {false, true})
      for (bool back : {false, true})
        for (bool masked : {true, false}) {
          GRU<double> l(3, opts(seq, back, 0.3, 0.4, reset_after));
          l.build(Shape::sequence(4, 3));
          randomize(l, 2);
          auto x = random_batch(Shape::sequence(4, 3), 3, 4);
          if (masked) x.mask = {1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1};
          INFO("reset_after " << reset_after << " seq " << seq << " back " << back << " masked " << masked);
          CHECK(l.forward(x, Mode::Eval).values.isApprox(reference_gru(l, x), 1e-12));
          Rng draw(5);
          Matrix<double> Mx(3, 3), Mh(3, 3);
          for (Index i = 0; i < Mx.size(); ++i) Mx.data()[i] = draw.uniform() < 0.3 ? 0.0 : 1.0 / 0.7;
          for (Index i = 0; i < Mh.size(); ++i) Mh.data()[i] = draw.uniform() < 0.4 ? 0.0 : 1.0 / 0.6;
          Rng rng(5);
          CHECK(l.forward(x, Mode::Train, &rng).values.isApprox(reference_gru(l, x, Mx, Mh), 1e-12));
        }
}

TEST_CASE("GRU: backward matches finite differences", "[gru][gradcheck]") {
  struct Case {
    bool seq, back;
    double dp, rdp;
    bool mask, reset_after;
    Index units;
  };
  for (const Case& c : {Case{false, false, 0, 0, false, true, 3}, Case{true, true, 0, 0, true, true, 3},
                        Case{true, false, 0.3, 0.4, true, true, 3}, Case{false, false, 0, 0, false, false, 3},
                        Case{true, true, 0, 0, true, false, 3}, Case{false, true, 0.3, 0.4, true, false, 3}}) {
    GRU<double> l(c.units, opts(c.seq, c.back, c.dp, c.rdp, c.reset_after));
    l.build(Shape::sequence(4, 3));
    randomize(l, 9, 0.5);
    auto x = random_batch(Shape::sequence(4, 3), 3, 5);
    if (c.mask) x.mask = {1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1};
    const auto rep = gradcheck(l, x);
    INFO("seq " << c.seq << " back " << c.back << " dropout " << c.dp << "/" << c.rdp << " mask " << c.mask
                << " reset_after " << c.reset_after << " units " << c.units << " worst at " << rep.worst_where);
    CHECK(rep.checked > 0);
    CHECK(rep.worst < 1e-6);
  }
}

TEST_CASE("GRU: backward matches finite differences with column tails in the recurrent kernel", "[gru][gradcheck]") {
  // H = 9: 27 gate columns, so the kernel's 8-column tiles leave a tail of 3 columns. Some gradients here
  // are near 1e-6, where the rounding noise of a 1e-6 step exceeds the tolerance: step 1e-5.
  for (bool reset_after : {true, false}) {
    GRU<double> l(9, opts(true, false, 0.0, 0.3, reset_after));
    l.build(Shape::sequence(3, 2));
    randomize(l, 6, 0.5);
    auto x = random_batch(Shape::sequence(3, 2), 2, 5);
    if (reset_after) x.mask = {1, 1, 0, 1, 1, 1};
    const auto rep = gradcheck(l, x, 7, 1e-5);
    INFO("reset_after " << reset_after << " worst at " << rep.worst_where);
    CHECK(rep.worst < 1e-6);
  }
}

TEST_CASE("GRU: backward on one-hot input and through a stack", "[gru][gradcheck]") {
  GRU<double> l(2, opts(true, false, 0.3, 0.0));
  l.build(Shape::one_hot(3, 5));
  randomize(l, 1);
  auto rep = gradcheck(l, random_batch(Shape::one_hot(3, 5), 2, 2));
  INFO("one-hot worst at " << rep.worst_where);
  CHECK(rep.checked == 5 * 6 + 2 * 6 + 2 * 6);
  CHECK(rep.worst < 1e-6);
  Stack2<double> st(std::make_unique<GRU<double>>(3, opts(true, false, 0.2, 0.2, false)),
                    std::make_unique<GRU<double>>(2, opts(false, true, 0.0, 0.3)));
  st.build(Shape::sequence(3, 2));
  randomize(st, 6, 0.9);
  auto x = random_batch(Shape::sequence(3, 2), 2, 3);
  x.mask = {1, 0, 1, 1, 1, 1};
  rep = gradcheck(st, x, 7, 3e-5);  // first-layer gradients near 1e-6: a larger step (see above)
  INFO("stack worst at " << rep.worst_where);
  CHECK(rep.worst < 1e-6);
}

TEST_CASE("GRU: padded and masked equals unpadded, and one-hot equals dense one-hot", "[gru][mask][onehot]") {
  for (bool reset_after : {true, false})
    for (bool back : {false, true}) {
      GRU<double> l(3, opts(false, back, 0, 0, reset_after)), p(3, opts(false, back, 0, 0, reset_after));
      l.build(Shape::one_hot(4, 9));
      p.build(Shape::one_hot(6, 9));
      randomize(l, 5);
      copy_params(l, p);
      const auto x = random_batch(Shape::one_hot(4, 9), 2, 6);
      const Matrix<double> plain = l.forward(x, Mode::Eval).values;
      CHECK(p.forward(pad_with_mask(x, 2, true), Mode::Eval).values == plain);
      CHECK(p.forward(pad_with_mask(x, 2, false), Mode::Eval).values == plain);
      GRU<double> d(3, opts(false, back, 0, 0, reset_after));
      d.build(Shape::sequence(4, 9));
      copy_params(l, d);
      CHECK(d.forward(densify(x), Mode::Eval).values.isApprox(plain, 1e-14));
    }
}

TEST_CASE("GRU: float forward agrees with double", "[gru][float]") {
  GRU<double> d(8, opts(true, false));
  GRU<float> f(8, opts(true, false));
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

TEST_CASE("GRU: the fused float step agrees with double on every row path", "[gru][float]") {
  // As for the LSTM: 53 rows reach every row path of the fused step (H <= 16, reset_after, float) and of the
  // pass after the product (H = 17, reset_after: gru_cell_fused); reset_after = false takes the block
  // expressions.
  for (Index H : {3, 8, 16, 17}) {
    for (const GRUOptions& o : {opts(true, false), opts(false, true, 0.0, 0.3), opts(true, false, 0.0, 0.0, false)}) {
      INFO("H " << H << " go_backwards " << o.go_backwards << " recurrent dropout " << o.recurrent_dropout
                << " reset_after " << o.reset_after);
      CHECK(float_double_gap<GRU>(H, o, 6, 53, 5, Mode::Eval) < 2e-5);
      CHECK(float_double_gap<GRU>(H, o, 6, 53, 5, Mode::Train) < 2e-4);
    }
  }
}

TEST_CASE("GRU: configuration round trip and errors", "[gru][errors]") {
  GRU<float> l(6, opts(true, true, 0.1, 0.2, false));
  CHECK(GRU<float>::from_config(l.config())->config() == l.config());
  CHECK(l.config().get_bool("reset_after") == false);
  CHECK_THROWS_WITH(GRU<float>(0), Catch::Contains("GRU: units must be positive"));
  CHECK_THROWS_WITH(GRU<float>(2, opts(false, false, 1.0)), Catch::Contains("GRU: dropout must be in [0, 1)"));
  GRU<float> ids(2);
  CHECK_THROWS_WITH(ids.build(Shape::ids(5)), Catch::Contains("GRU 'gru': cannot take integer ids"));
  GRU<float> g(2);
  g.build(Shape::sequence(3, 4));
  SeqBatch<float> x;
  x.batch = 1;
  x.shape = Shape::sequence(3, 5);
  x.values.resize(3, 5);
  CHECK_THROWS_AS(g.forward(x, Mode::Eval), ShapeError);
}

}  // namespace test_gru
