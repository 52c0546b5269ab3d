#include <catch2/catch.hpp>
#include <seqnet/optim/adam.hpp>
#include <seqnet/optim/make_optimizer.hpp>
#include <seqnet/optim/rmsprop.hpp>
#include <seqnet/optim/sgd.hpp>

#include <Eigen/Core>

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

namespace test_optimizers {

using namespace seqnet;

namespace {

// One step of `opt` on a single value with gradient g.
template <typename T>
T step1(Optimizer<T>& opt, T& w, T g) {
  opt.step(&w, &g);
  return w;
}

}  // namespace

TEST_CASE("SGD: plain step is w -= lr g", "[optim][sgd]") {
  SGD<double> opt(SGDOptions{0.1});
  opt.bind(1);
  double w = 1.0;
  CHECK(step1(opt, w, 0.5) == Approx(0.95).epsilon(1e-15));
  CHECK(opt.iterations() == 1);
  CHECK(opt.name() == "SGD");
}

TEST_CASE("SGD: momentum over two steps by hand", "[optim][sgd]") {
  // v1 = -0.1 * 1 = -0.1, w1 = 0.9; v2 = 0.9 * -0.1 - 0.1 * 0.5 = -0.14, w2 = 0.76
  SGD<double> opt(SGDOptions{0.1, 0.9, false});
  opt.bind(1);
  double w = 1.0;
  CHECK(step1(opt, w, 1.0) == Approx(0.9).epsilon(1e-15));
  CHECK(step1(opt, w, 0.5) == Approx(0.76).epsilon(1e-15));
  CHECK(opt.velocity()[0] == Approx(-0.14).epsilon(1e-15));
}

TEST_CASE("SGD: Nesterov momentum over two steps by hand", "[optim][sgd]") {
  // v1 = -0.1, w1 = 1 + 0.9 * -0.1 - 0.1 = 0.81; v2 = -0.14, w2 = 0.81 + 0.9 * -0.14 - 0.05 = 0.634
  SGD<double> opt(SGDOptions{0.1, 0.9, true});
  opt.bind(1);
  double w = 1.0;
  CHECK(step1(opt, w, 1.0) == Approx(0.81).epsilon(1e-15));
  CHECK(step1(opt, w, 0.5) == Approx(0.634).epsilon(1e-15));
}

TEST_CASE("RMSprop: two steps by hand, epsilon inside the square root", "[optim][rmsprop]") {
  // ms1 = 0.1 * 2^2 = 0.4; w1 = 1 - 0.01 * 2 / sqrt(0.4 + 1e-7)
  // ms2 = 0.9 * 0.4 + 0.1 * 1^2 = 0.46; w2 = w1 - 0.01 * 1 / sqrt(0.46 + 1e-7)
  RMSprop<double> opt(RMSpropOptions{0.01});
  opt.bind(1);
  double w = 1.0;
  CHECK(step1(opt, w, 2.0) == Approx(0.9683772273511625).epsilon(1e-14));
  CHECK(step1(opt, w, 1.0) == Approx(0.9536330333383025).epsilon(1e-14));
  CHECK(opt.mean_square()[0] == Approx(0.46).epsilon(1e-15));

  // Epsilon is inside: with a zero gradient history and tiny g the step is lr g / sqrt(0.1 g^2 + eps).
  RMSprop<double> tiny(RMSpropOptions{0.01, 0.9, 1e-2});
  tiny.bind(1);
  double w2 = 0.0;
  CHECK(step1(tiny, w2, 0.1) == Approx(-0.01 * 0.1 / std::sqrt(0.1 * 0.01 + 1e-2)).epsilon(1e-14));
}

TEST_CASE("RMSprop: momentum and centered variants by hand", "[optim][rmsprop]") {
  {
    RMSprop<double> opt(RMSpropOptions{0.01, 0.9, 1e-7, 0.5, false});
    opt.bind(1);
    double w = 1.0;
    const double mom1 = 0.01 * 2 / std::sqrt(0.4 + 1e-7);
    const double mom2 = 0.5 * mom1 + 0.01 * 1 / std::sqrt(0.46 + 1e-7);
    CHECK(step1(opt, w, 2.0) == Approx(1 - mom1).epsilon(1e-14));
    CHECK(step1(opt, w, 1.0) == Approx(1 - mom1 - mom2).epsilon(1e-14));
  }
  {
    // mg1 = 0.2, ms1 = 0.4: w1 = 1 - 0.01 * 2 / sqrt(0.4 - 0.04 + eps)
    // mg2 = 0.28, ms2 = 0.46: w2 = w1 - 0.01 * 1 / sqrt(0.46 - 0.0784 + eps)
    RMSprop<double> opt(RMSpropOptions{0.01, 0.9, 1e-7, 0.0, true});
    opt.bind(1);
    double w = 1.0;
    const double w1 = 1 - 0.01 * 2 / std::sqrt(0.36 + 1e-7);
    CHECK(step1(opt, w, 2.0) == Approx(w1).epsilon(1e-14));
    CHECK(step1(opt, w, 1.0) == Approx(w1 - 0.01 / std::sqrt(0.46 - 0.0784 + 1e-7)).epsilon(1e-13));
  }
  {
    RMSprop<double> opt(RMSpropOptions{0.01, 0.9, 1e-7, 0.5, true});
    opt.bind(1);
    double w = 1.0;
    const double mom1 = 0.01 * 2 / std::sqrt(0.36 + 1e-7);
    const double mom2 = 0.5 * mom1 + 0.01 / std::sqrt(0.46 - 0.0784 + 1e-7);
    step1(opt, w, 2.0);
    CHECK(step1(opt, w, 1.0) == Approx(1 - mom1 - mom2).epsilon(1e-13));
  }
}

TEST_CASE("Adam: first step by hand", "[optim][adam]") {
  // m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025, lr_t = 0.001 sqrt(0.001) / 0.1
  // w = 1 - lr_t * 0.05 / (sqrt(0.00025) + 1e-7)
  Adam<double> opt;
  opt.bind(1);
  double w = 1.0;
  CHECK(step1(opt, w, 0.5) == Approx(0.9990000063245154).epsilon(1e-15));
  CHECK(opt.m()[0] == Approx(0.05));
  CHECK(opt.v()[0] == Approx(0.00025));
}

namespace {

// Adam on one tensor by the formulas, with the step counter `t` given from outside.
void adam_reference_step(std::vector<double>& w, const std::vector<double>& g, std::vector<double>& m,
                         std::vector<double>& v, int t) {
  const double lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-7;
  const double lr_t = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
  for (std::size_t i = 0; i < w.size(); ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    w[i] -= lr_t * m[i] / (std::sqrt(v[i]) + eps);
  }
}

}  // namespace

TEST_CASE("Adam: two tensors in one flat array over 3 steps, bias correction once per step", "[optim][adam]") {
  // Tensor A: 2x2 kernel (4 values), tensor B: bias of 3 values, laid out A then B in one flat array.
  const std::vector<double> a0 = {0.5, -0.3, 0.8, 0.1}, b0 = {0.0, 0.2, -0.4};
  const std::vector<std::vector<double>> ga = {{0.1, -0.2, 0.3, 0.05}, {0.2, 0.1, -0.1, 0.0}, {-0.3, 0.4, 0.2, 0.1}};
  const std::vector<std::vector<double>> gb = {{1.0, -0.5, 0.25}, {0.5, 0.5, -0.75}, {-1.0, 0.1, 0.3}};

  Adam<double> opt;
  opt.bind(7);
  std::vector<double> flat = a0;
  flat.insert(flat.end(), b0.begin(), b0.end());

  std::vector<double> ra = a0, rb = b0, ma(4, 0), va(4, 0), mb(3, 0), vb(3, 0);
  // What a per-tensor step counter would give (the bug to avoid): t advances 2 per step.
  std::vector<double> xa = a0, xb = b0, xma(4, 0), xva(4, 0), xmb(3, 0), xvb(3, 0);
  int bad_t = 0;
  for (int t = 1; t <= 3; ++t) {
    std::vector<double> g = ga[static_cast<std::size_t>(t - 1)];
    g.insert(g.end(), gb[static_cast<std::size_t>(t - 1)].begin(), gb[static_cast<std::size_t>(t - 1)].end());
    opt.step(flat.data(), g.data());
    adam_reference_step(ra, ga[static_cast<std::size_t>(t - 1)], ma, va, t);
    adam_reference_step(rb, gb[static_cast<std::size_t>(t - 1)], mb, vb, t);
    adam_reference_step(xa, ga[static_cast<std::size_t>(t - 1)], xma, xva, ++bad_t);
    adam_reference_step(xb, gb[static_cast<std::size_t>(t - 1)], xmb, xvb, ++bad_t);
    CHECK(opt.iterations() == t);
  }
  double worst = 0.0, bad_gap = 0.0;
  for (std::size_t i = 0; i < 4; ++i) {
    worst = std::max(worst, std::abs(flat[i] - ra[i]));
    bad_gap = std::max(bad_gap, std::abs(xa[i] - ra[i]) + std::abs(xb[i % 3] - rb[i % 3]));
  }
  for (std::size_t i = 0; i < 3; ++i) worst = std::max(worst, std::abs(flat[4 + i] - rb[i]));
  CHECK(worst < 1e-15);
  // The test can tell the two counters apart: a per-tensor counter is off by far more than the tolerance.
  CHECK(bad_gap > 1e-6);
}

TEST_CASE("Optimizers: each minimises a convex quadratic", "[optim]") {
  // f(w) = 1/2 sum a_i (w_i - c_i)^2, gradient a_i (w_i - c_i); minimum at c.
  const std::vector<double> a = {1.0, 2.0, 3.0, 0.5}, c = {1.0, -2.0, 0.5, 3.0};
  auto run = [&](Optimizer<double>& opt, int steps) {
    std::vector<double> w(4, 0.0), g(4);
    opt.bind(4);
    for (int s = 0; s < steps; ++s) {
      for (std::size_t i = 0; i < 4; ++i) g[i] = a[i] * (w[i] - c[i]);
      opt.step(w.data(), g.data());
    }
    double err = 0.0;
    for (std::size_t i = 0; i < 4; ++i) err = std::max(err, std::abs(w[i] - c[i]));
    return err;
  };
  SGD<double> sgd(SGDOptions{0.1});
  SGD<double> momentum(SGDOptions{0.05, 0.9});
  SGD<double> nesterov(SGDOptions{0.05, 0.9, true});
  RMSprop<double> rms(RMSpropOptions{0.01});
  Adam<double> adam(AdamOptions{0.05});
  // Starting 3.0 away from the minimum in the worst coordinate.
  CHECK(run(sgd, 500) < 1e-6);
  CHECK(run(momentum, 300) < 1e-6);
  CHECK(run(nesterov, 300) < 1e-6);
  CHECK(run(rms, 2000) < 1e-6);
  CHECK(run(adam, 2000) < 1e-6);
}

TEST_CASE("Optimizers: float instantiation steps like double", "[optim]") {
  Adam<float> af;
  Adam<double> ad;
  RMSprop<float> rf;
  RMSprop<double> rd;
  af.bind(3);
  ad.bind(3);
  rf.bind(3);
  rd.bind(3);
  std::vector<float> wf = {1, 2, 3}, gf = {0.1f, -0.2f, 0.3f}, wf2 = wf;
  std::vector<double> wd = {1, 2, 3}, gd = {0.1f, -0.2f, 0.3f}, wd2 = wd;
  for (int s = 0; s < 5; ++s) {
    af.step(wf.data(), gf.data());
    ad.step(wd.data(), gd.data());
    rf.step(wf2.data(), gf.data());
    rd.step(wd2.data(), gd.data());
  }
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(wf[i] == Approx(wd[i]).epsilon(1e-6));
    CHECK(wf2[i] == Approx(wd2[i]).epsilon(1e-6));
  }
}

TEST_CASE("Optimizers: every position gets the same update", "[optim]") {
  // Many SIMD packets and a partial last one; every value sees the same gradient, so all must agree.
  const Index n = 3 * 1024 + 17;
  for (int which = 0; which < 2; ++which) {
    std::unique_ptr<Optimizer<double>> opt;
    if (which == 0)
      opt = std::make_unique<Adam<double>>();
    else
      opt = std::make_unique<RMSprop<double>>(RMSpropOptions{0.001, 0.9, 1e-7, 0.5, true});
    opt->bind(n);
    std::vector<double> w(static_cast<std::size_t>(n), 1.0), g(static_cast<std::size_t>(n), 0.25);
    for (int s = 0; s < 3; ++s) opt->step(w.data(), g.data());
    for (double x : w) REQUIRE(x == w[0]);
    CHECK(w[0] < 1.0);
  }
}

TEST_CASE("Optimizers: a step in pieces equals the whole step", "[optim]") {
  // Several steps with a gradient that differs per value, once over [0, n) and once cut into uneven pieces
  // handed out in reverse order: every value and the step counter must agree exactly.
  const Index n = 2 * 1024 + 37;
  auto make = [](int which) -> std::unique_ptr<Optimizer<double>> {
    switch (which) {
      case 0:
        return std::make_unique<SGD<double>>(SGDOptions{0.1, 0.9, true});
      case 1:
        return std::make_unique<RMSprop<double>>(RMSpropOptions{0.01, 0.9, 1e-7, 0.5, true});
      default:
        return std::make_unique<Adam<double>>();
    }
  };
  for (int which = 0; which < 3; ++which) {
    auto whole = make(which), pieces = make(which);
    whole->bind(n);
    pieces->bind(n);
    std::vector<double> w1(static_cast<std::size_t>(n)), g(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) w1[static_cast<std::size_t>(i)] = std::sin(0.1 * static_cast<double>(i));
    std::vector<double> w2 = w1;
    const std::vector<Index> cuts{0, 5, 1024, 1500, n};
    for (int s = 0; s < 3; ++s) {
      for (Index i = 0; i < n; ++i) g[static_cast<std::size_t>(i)] = std::cos(0.3 * static_cast<double>(i + s));
      whole->step(w1.data(), g.data());
      int calls = 0;
      pieces->step(w2.data(), g.data(), [&](const auto& update) {
        for (std::size_t c = cuts.size() - 1; c-- > 0;) {
          update(cuts[c], cuts[c + 1]);
          ++calls;
        }
      });
      CHECK(calls == 4);
    }
    INFO(whole->name());
    CHECK(w2 == w1);
    CHECK(pieces->iterations() == 3);
    CHECK(w1[0] != std::sin(0.0));
    // A piece outside [0, n) is refused, naming it.
    CHECK_THROWS_WITH(pieces->step(w2.data(), g.data(), [&](const auto& update) { update(n - 4, n + 1); }),
                      Catch::Contains("piece [" + std::to_string(n - 4) + ", " + std::to_string(n + 1) + ")"));
  }
}

// Each optimizer and variant: every value's update depends on its own value, state and gradient only, not on
// the address of the arrays. The same steps run on arrays that start one element past an aligned address and
// on arrays that start at one; every value must agree exactly. (Eigen's array expressions sent the
// values before the first aligned address through scalar code, whose square root differs in the last bits
// from the AVX and AVX-512 packet code's: two identical models trained apart depending on their arrays' addresses.)
template <typename T>
void check_address_independent(int which) {
  auto make = [which]() -> std::unique_ptr<Optimizer<T>> {
    switch (which) {
      case 0:
        return std::make_unique<Adam<T>>(AdamOptions{0.01});
      case 1:
        return std::make_unique<RMSprop<T>>(RMSpropOptions{0.01, 0.9, 1e-7, 0.0, false});
      case 2:
        return std::make_unique<RMSprop<T>>(RMSpropOptions{0.01, 0.9, 1e-7, 0.5, false});
      case 3:
        return std::make_unique<RMSprop<T>>(RMSpropOptions{0.01, 0.9, 1e-7, 0.0, true});
      case 4:
        return std::make_unique<RMSprop<T>>(RMSpropOptions{0.01, 0.9, 1e-7, 0.5, true});
      default:
        return std::make_unique<SGD<T>>(SGDOptions{0.1, 0.9, true});
    }
  };
  const Index n = 131;  // several packets of any width and a partial one
  // Eigen's allocator aligns to the widest packet; offsets of 0 and 1 values give an aligned and an unaligned
  // start for the same values.
  std::vector<T, Eigen::aligned_allocator<T>> w0(static_cast<std::size_t>(n) + 1), w1(w0.size()), g0(w0.size()),
      g1(w0.size());
  for (Index i = 0; i < n; ++i) {
    w0[static_cast<std::size_t>(i)] = w1[static_cast<std::size_t>(i) + 1] =
        static_cast<T>(std::sin(0.7 * static_cast<double>(i)));
  }
  auto a = make(), b = make();
  a->bind(n);
  b->bind(n);
  for (int s = 0; s < 4; ++s) {
    for (Index i = 0; i < n; ++i)
      g0[static_cast<std::size_t>(i)] = g1[static_cast<std::size_t>(i) + 1] =
          static_cast<T>(0.001 + std::cos(1.3 * static_cast<double>(i + 7 * s)));
    a->step(w0.data(), g0.data());
    b->step(w1.data() + 1, g1.data() + 1);
  }
  INFO(a->name() << " variant " << which);
  for (Index i = 0; i < n; ++i) {
    INFO("value " << i);
    REQUIRE(w0[static_cast<std::size_t>(i)] == w1[static_cast<std::size_t>(i) + 1]);
  }
  CHECK(w0[0] != static_cast<T>(std::sin(0.0)));
}

TEST_CASE("Optimizers: the update does not depend on the arrays' addresses", "[optim]") {
  for (int which = 0; which < 6; ++which) {
    check_address_independent<float>(which);
    check_address_independent<double>(which);
  }
}

TEST_CASE("Optimizers: config, clone and learning rate", "[optim]") {
  Adam<double> adam(AdamOptions{0.01, 0.8, 0.99, 1e-6});
  CHECK(adam.config().get_double("beta_1") == 0.8);
  CHECK(adam.config().get_double("epsilon") == 1e-6);
  adam.bind(2);
  std::vector<double> w = {1, 1}, g = {1, 1};
  adam.step(w.data(), g.data());
  adam.set_learning_rate(0.02);
  CHECK(adam.learning_rate() == 0.02);
  auto copy = adam.clone();
  CHECK(copy->name() == "Adam");
  CHECK(copy->config() == adam.config());
  CHECK(copy->iterations() == 0);
  CHECK_THROWS_AS(copy->step(w.data(), g.data()), StateError);
  CHECK(Adam<double>::from_config(adam.config())->config() == adam.config());
  RMSprop<float> rms(RMSpropOptions{0.002, 0.95, 1e-6, 0.1, true});
  CHECK(RMSprop<float>::from_config(rms.config())->config() == rms.config());
  SGD<float> sgd(SGDOptions{0.3, 0.5, true});
  CHECK(SGD<float>::from_config(sgd.config())->config() == sgd.config());
  CHECK(rms.config().get_bool("centered"));
  CHECK(rms.name() == "RMSprop");

  // bind() again resets the state and the counter.
  adam.bind(2);
  CHECK(adam.iterations() == 0);
  CHECK(adam.m()[0] == 0.0);
}

TEST_CASE("Optimizers: invalid settings and misuse are refused", "[optim][errors]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (double lr : {0.0, -0.1, nan, inf}) {
    CHECK_THROWS_AS(SGD<double>(SGDOptions{lr}), InvalidArgument);
    CHECK_THROWS_AS(RMSprop<double>(RMSpropOptions{lr}), InvalidArgument);
    CHECK_THROWS_AS(Adam<double>(AdamOptions{lr}), InvalidArgument);
  }
  CHECK_THROWS_WITH(SGD<double>(SGDOptions{0.1, -0.5}), Catch::Contains("momentum"));
  CHECK_THROWS_AS(SGD<double>(SGDOptions{0.1, nan}), InvalidArgument);
  CHECK_THROWS_WITH(RMSprop<double>(RMSpropOptions{0.1, 1.0}), Catch::Contains("rho must be in [0, 1)"));
  CHECK_THROWS_AS(RMSprop<double>(RMSpropOptions{0.1, -0.1}), InvalidArgument);
  CHECK_THROWS_AS(RMSprop<double>(RMSpropOptions{0.1, 0.9, 0.0}), InvalidArgument);
  CHECK_THROWS_AS(RMSprop<double>(RMSpropOptions{0.1, 0.9, 1e-7, -1.0}), InvalidArgument);
  CHECK_THROWS_WITH(Adam<double>(AdamOptions{0.1, 1.0}), Catch::Contains("beta_1"));
  CHECK_THROWS_WITH(Adam<double>(AdamOptions{0.1, 0.9, 1.5}), Catch::Contains("beta_2"));
  CHECK_THROWS_AS(Adam<double>(AdamOptions{0.1, 0.9, nan}), InvalidArgument);
  CHECK_THROWS_WITH(Adam<double>(AdamOptions{0.1, 0.9, 0.999, -1e-7}), Catch::Contains("epsilon"));

  Adam<double> adam;
  double w = 0, g = 0;
  CHECK_THROWS_WITH(adam.step(&w, &g), Catch::Contains("before bind"));
  CHECK_THROWS_AS(adam.set_learning_rate(0.0), InvalidArgument);
  CHECK_THROWS_AS(adam.set_learning_rate(nan), InvalidArgument);
  CHECK(adam.learning_rate() == 0.001);
  CHECK_THROWS_AS(adam.bind(-1), InvalidArgument);
  adam.bind(1);
  CHECK_THROWS_AS(adam.step(nullptr, &g), InvalidArgument);
  CHECK(adam.iterations() == 0);
}

TEST_CASE("Optimizers: recreated from name and config", "[optim]") {
  const RMSprop<float> rms(RMSpropOptions{0.002, 0.8, 1e-6, 0.3, true});
  const auto again = make_optimizer<float>(rms.name(), rms.config());
  CHECK(again->name() == "RMSprop");
  CHECK(again->config() == rms.config());
  CHECK(make_optimizer<double>("SGD", SGD<double>().config())->name() == "SGD");
  CHECK(make_optimizer<double>("Adam", Adam<double>().config())->config() == Adam<double>().config());
  CHECK_THROWS_WITH(make_optimizer<double>("Adagrad", Config{}), Catch::Contains("unknown optimizer 'Adagrad'"));
  CHECK_THROWS_AS(make_optimizer<double>("Adam", Config{}), FormatError);
  Config bad = Adam<double>().config();
  bad.set("beta_1", 1.5);
  CHECK_THROWS_AS(make_optimizer<double>("Adam", bad), InvalidArgument);
}

}  // namespace test_optimizers
