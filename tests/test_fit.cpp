#include <catch2/catch.hpp>
#include <seqnet/layers/bidirectional.hpp>
#include <seqnet/layers/dropout.hpp>
#include <seqnet/layers/embedding.hpp>
#include <seqnet/layers/gru.hpp>
#include <seqnet/layers/lstm.hpp>
#include <seqnet/layers/simple_rnn.hpp>
#include <seqnet/model/sequential.hpp>
#include <seqnet/optim/adam.hpp>
#include <seqnet/optim/rmsprop.hpp>
#include <seqnet/optim/sgd.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>

namespace test_fit {

using namespace seqnet;

namespace {

// Identity layer that turns its output into NaN on the k-th training forward (1-based): a way to make a
// batch loss non-finite at a chosen step.
template <typename T>
class PoisonAt final : public Layer<T> {
 public:
  explicit PoisonAt(int at, bool in_backward = false) : at_(at), in_backward_(in_backward) {}
  std::string type_name() const override { return "PoisonAt"; }
  std::string default_name() const override { return "poison_at"; }
  Config config() const override { return Config().set("at", at_); }
  std::unique_ptr<Layer<T>> clone_unbuilt() const override { return std::make_unique<PoisonAt<T>>(at_, in_backward_); }
  int calls() const { return calls_; }

 protected:
  Shape do_build(const Shape& in) override { return in; }
  void do_forward(const SeqBatch<T>& x, SeqBatch<T>& y, Mode mode, Rng*) override {
    y.values = x.values;
    y.mask = x.mask;
    if (mode == Mode::Train && !in_backward_ && ++calls_ == at_)
      y.values.setConstant(std::numeric_limits<T>::quiet_NaN());
  }
  void do_backward(const SeqBatch<T>&, const SeqBatch<T>& dy, SeqBatch<T>& dx) override {
    dx.values = dy.values;
    if (in_backward_ && ++calls_ == at_) dx.values.setConstant(std::numeric_limits<T>::quiet_NaN());
  }

 private:
  int at_;
  bool in_backward_;
  int calls_ = 0;
};

// n samples of 4 features in [-1, 1]; label 1 when x0 + x1 - x2 > 0.1 x3 (a linearly separable rule).
void separable(Index n, std::uint64_t seed, Tensor<double>& x, Tensor<double>& y) {
  Rng r(seed);
  x = Tensor<double>({n, 4});
  y = Tensor<double>({n});
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < 4; ++j) x(i, j) = r.uniform(-1.0, 1.0);
    y(i) = x(i, 0) + x(i, 1) - x(i, 2) > 0.1 * x(i, 3) ? 1.0 : 0.0;
  }
}

Sequential<double> mlp(std::uint64_t seed, int threads = 1) {
  Sequential<double> m(SequentialOptions{seed, threads});
  m.add(Dense<double>(8, Activation::Tanh));
  m.add(Dense<double>(1, Activation::Sigmoid));
  m.build(Shape::vector(4));
  return m;
}

FitOptions<double> quiet(int epochs, Index batch) {
  FitOptions<double> o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.verbose = Verbosity::Silent;
  o.out = nullptr;
  return o;
}

}  // namespace

TEST_CASE("fit: one SGD step by hand on sigmoid + binary cross-entropy (fused)", "[fit]") {
  Sequential<double> m;
  m.add(Dense<double>(1, Activation::Sigmoid));
  m.build(Shape::vector(2));
  m.set_weights({0.5, -0.25, 0.1});  // kernel (2x1), bias
  m.compile(LossKind::BinaryCrossentropy, SGD<double>(SGDOptions{0.5}), {Metric::BinaryAccuracy});
  CHECK(m.fused_loss());
  const Tensor<double> x({2, 2}, std::vector<double>{1, 2, -1, 0.5}), y({2}, std::vector<double>{1, 0});
  // z = (0.1, -0.525); L = (-log s(0.1) - log(1 - s(-0.525))) / 2; dz = (s(z) - y) / 2; w -= 0.5 x^T dz.
  const double loss = m.train_on_batch(x, y);
  CHECK(loss == Approx(0.5545542073732821).epsilon(1e-12));
  CHECK(m.values()[0] == Approx(0.7116761560564234).epsilon(1e-12));
  CHECK(m.values()[1] == Approx(-0.05895007020254922).epsilon(1e-12));
  CHECK(m.values()[2] == Approx(0.12583425020410655).epsilon(1e-12));
  CHECK(m.optimizer().iterations() == 1);
  CHECK(m.step_status() == StepStatus::Ok);
}

TEST_CASE("fit: one SGD step by hand on a linear output with mean squared error", "[fit]") {
  Sequential<double> m;
  m.add(Dense<double>(1));
  m.build(Shape::vector(2));
  m.set_weights({0.5, -0.25, 0.1});
  m.compile(LossKind::MeanSquaredError, SGD<double>(SGDOptions{0.5}));
  CHECK_FALSE(m.fused_loss());
  const Tensor<double> x({2, 2}, std::vector<double>{1, 2, -1, 0.5}), y({2, 1}, std::vector<double>{1, 0});
  // z = (0.1, -0.525); L = ((0.1 - 1)^2 + 0.525^2) / 2; dz = 2 (z - y) / 2.
  CHECK(m.train_on_batch(x, y) == Approx(0.5428125).epsilon(1e-12));
  CHECK(m.values()[0] == Approx(0.6875).epsilon(1e-12));
  CHECK(m.values()[1] == Approx(0.78125).epsilon(1e-12));
  CHECK(m.values()[2] == Approx(0.8125).epsilon(1e-12));
}

TEST_CASE("fit: a small network learns a separable problem", "[fit][learning]") {
  Tensor<double> x, y, tx, ty;
  separable(600, 1, x, y);
  separable(300, 2, tx, ty);
  Sequential<double> m = mlp(5);
  m.compile(LossKind::BinaryCrossentropy, Adam<double>(AdamOptions{0.01}), {Metric::BinaryAccuracy});
  const double before = m.evaluate(tx, ty).get("accuracy");
  FitOptions<double> o = quiet(40, 32);
  o.validation_split = 0.2;
  const History h = m.fit(x, y, o);
  REQUIRE(h.size() == 40);
  CHECK(h.reason == StopReason::Completed);
  CHECK(h.stopped_epoch == -1);
  CHECK(h.keys() == std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"});
  CHECK(h.series("loss").back() < 0.5 * h.series("loss").front());
  const EvalResult r = m.evaluate(tx, ty);
  CHECK(before < 0.8);
  CHECK(r.get("accuracy") > 0.95);
  CHECK(h.epochs.back().get("val_accuracy") > 0.93);
  // predict agrees with evaluate's accuracy.
  const Tensor<double> p = m.predict(tx);
  REQUIRE(p.shape() == std::vector<Index>{300, 1});
  double correct = 0;
  for (Index i = 0; i < 300; ++i) correct += ((p(i, 0) > 0.5) == (ty(i) > 0.5)) ? 1 : 0;
  CHECK(correct / 300 == Approx(r.get("accuracy")));
}

TEST_CASE("fit: softmax with sparse and one-hot labels learns and reports accuracy", "[fit][learning]") {
  // Three classes: argmax of the first three features.
  Rng r(3);
  const Index n = 300;
  Tensor<double> x({n, 4}), ys({n}), yc({n, 3}, 0.0);
  for (Index i = 0; i < n; ++i) {
    Index best = 0;
    for (Index j = 0; j < 4; ++j) x(i, j) = r.uniform(-1, 1);
    for (Index j = 1; j < 3; ++j)
      if (x(i, j) > x(i, best)) best = j;
    ys(i) = static_cast<double>(best);
    yc(i, best) = 1.0;
  }
  for (LossKind k : {LossKind::SparseCategoricalCrossentropy, LossKind::CategoricalCrossentropy}) {
    Sequential<double> m(SequentialOptions{11});
    m.add(Dense<double>(16, Activation::Relu));
    m.add(Dense<double>(3, Activation::Softmax));
    m.build(Shape::vector(4));
    m.compile(k, Adam<double>(AdamOptions{0.02}), {accuracy_for(k)});
    CHECK(m.fused_loss());
    const Tensor<double>& y = k == LossKind::SparseCategoricalCrossentropy ? ys : yc;
    m.fit(x, y, quiet(60, 32));
    CHECK(m.evaluate(x, y).get("accuracy") > 0.9);
  }
}

TEST_CASE("fit: two threads give the one-thread gradient", "[fit][threads]") {
  Tensor<double> x, y;
  separable(37, 4, x, y);  // odd size: uneven slices
  Sequential<double> one = mlp(9, 1), two = mlp(9, 2), three = mlp(9, 1);
  three.set_threads(3);
  for (Sequential<double>* m : {&one, &two, &three})
    m->compile(LossKind::BinaryCrossentropy, SGD<double>(), {Metric::BinaryAccuracy});
  const double l1 = one.compute_gradients(x, y);
  const double l2 = two.compute_gradients(x, y);
  const double l3 = three.compute_gradients(x, y);
  CHECK(l2 == Approx(l1).epsilon(1e-12));
  CHECK(l3 == Approx(l1).epsilon(1e-12));
  double worst = 0;
  for (Index i = 0; i < one.num_params(); ++i) {
    worst = std::max(worst, std::abs(one.gradients()[i] - two.gradients()[i]));
    worst = std::max(worst, std::abs(one.gradients()[i] - three.gradients()[i]));
  }
  CHECK(worst < 1e-12);
  CHECK(Eigen::Map<const Vector<double>>(one.gradients(), one.num_params()).norm() > 1e-3);
  // Inference splits the batch too, with the same results.
  const Tensor<double> p1 = one.predict(x, 10), p2 = two.predict(x, 10);
  for (Index i = 0; i < x.dim(0); ++i) CHECK(p2(i, 0) == Approx(p1(i, 0)).epsilon(1e-14));
  CHECK(two.evaluate(x, y, 8).loss == Approx(one.evaluate(x, y, 8).loss).epsilon(1e-12));
  // And training on two threads follows the one-thread run.
  one.fit(x, y, quiet(3, 8));
  two.fit(x, y, quiet(3, 8));
  for (Index i = 0; i < one.num_params(); ++i) CHECK(two.values()[i] == Approx(one.values()[i]).epsilon(1e-10));
}

TEST_CASE("fit: step timing counts every step and splits its time into phases and threads", "[fit][threads]") {
  Tensor<double> x, y;
  separable(37, 4, x, y);
  for (int threads : {1, 2}) {
    Sequential<double> m = mlp(5, threads);
    m.compile(LossKind::BinaryCrossentropy, SGD<double>());
    CHECK(m.step_timing().steps == 0);
    m.fit(x, y, quiet(2, 10));  // 4 batches per epoch
    m.train_on_batch(x, y);
    const StepTiming& t = m.step_timing();
    CHECK(t.steps == 9);
    CHECK(t.slices > 0.0);
    CHECK(t.update > 0.0);
    REQUIRE(t.busy.size() == static_cast<std::size_t>(threads));
    for (double b : t.busy) {
      CHECK(b > 0.0);
      CHECK(b <= t.slices);  // a thread's slice lies inside the slices phase
    }
    CHECK(t.imbalance >= 0.0);
    CHECK(t.imbalance <= t.slices);
    if (threads == 1) CHECK(t.imbalance == 0.0);
    CHECK(t.shared == 0.0);  // no Embedding read through a recurrent layer's table
    m.reset_step_timing();
    CHECK(m.step_timing().steps == 0);
    CHECK(m.step_timing().slices == 0.0);
    CHECK(m.step_timing().busy.empty());
  }
}

TEST_CASE("fit: the same seed gives bit-identical weights, another seed different ones", "[fit][determinism]") {
  Tensor<double> x, y;
  separable(100, 6, x, y);
  auto train = [&](std::uint64_t seed) {
    Sequential<double> m = mlp(seed);
    m.compile(LossKind::BinaryCrossentropy, RMSprop<double>(RMSpropOptions{0.01}), {Metric::BinaryAccuracy});
    FitOptions<double> o = quiet(3, 16);
    o.validation_split = 0.25;
    m.fit(x, y, o);
    return m.get_weights();
  };
  const std::vector<double> a = train(21), b = train(21), c = train(22);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("fit: shuffling is seeded and changes the result", "[fit][determinism]") {
  Tensor<double> x, y;
  separable(64, 8, x, y);
  auto train = [&](bool shuffle) {
    Sequential<double> m = mlp(1);
    m.compile(LossKind::BinaryCrossentropy, SGD<double>(SGDOptions{0.1}));
    FitOptions<double> o = quiet(2, 8);
    o.shuffle = shuffle;
    m.fit(x, y, o);
    return m.get_weights();
  };
  CHECK(train(true) == train(true));
  CHECK(train(true) != train(false));
}

TEST_CASE("fit: a NaN loss stops training and keeps the last finite weights", "[fit][nan]") {
  Tensor<double> x, y;
  separable(40, 12, x, y);
  auto make = [](int poison_at) {
    Sequential<double> m(SequentialOptions{4});
    m.add(Dense<double>(3, Activation::Tanh));
    m.add(PoisonAt<double>(poison_at));
    m.add(Dense<double>(1, Activation::Sigmoid));
    m.build(Shape::vector(4));
    m.compile(LossKind::BinaryCrossentropy, SGD<double>(SGDOptions{0.1}), {Metric::BinaryAccuracy});
    return m;
  };
  // Batches of 10, no shuffling: the 7th step is epoch 2, batch 3.
  Sequential<double> m = make(7);
  std::ostringstream out;
  FitOptions<double> o = quiet(5, 10);
  o.shuffle = false;
  o.out = &out;
  const History h = m.fit(x, y, o);
  CHECK(h.reason == StopReason::NonFiniteLoss);
  CHECK(h.stopped_epoch == 1);
  CHECK(h.stopped_batch == 2);
  CHECK(h.size() == 1);  // only epoch 1 finished
  CHECK(h.stop_reason.find("Epoch 2, batch 3: invalid loss nan") != std::string::npos);
  CHECK(out.str().find("invalid loss nan, terminating training") != std::string::npos);
  CHECK(m.optimizer().iterations() == 6);
  // The same six steps by hand give the same weights.
  Sequential<double> ref = make(1000);
  for (int s = 0; s < 6; ++s) {
    const Index b0 = (s % 4) * 10;
    ref.train_on_batch(x.slice(b0, b0 + 10), y.slice(b0, b0 + 10));
  }
  CHECK(m.get_weights() == ref.get_weights());
  // train_on_batch reports a NaN loss without stepping or throwing.
  Sequential<double> t = make(1);
  const std::vector<double> w0 = t.get_weights();
  CHECK(std::isnan(t.train_on_batch(x, y)));
  CHECK(t.step_status() == StepStatus::NonFiniteLoss);
  CHECK(t.get_weights() == w0);
  CHECK(t.optimizer().iterations() == 0);
}

TEST_CASE("fit: a diverging learning rate stops training with finite weights", "[fit][nan]") {
  Tensor<float> x({8, 1}), y({8, 1});
  for (Index i = 0; i < 8; ++i) {
    x(i, 0) = static_cast<float>(i + 1);
    y(i, 0) = static_cast<float>(3 * i);
  }
  Sequential<float> m;
  m.add(Dense<float>(1));
  m.build(Shape::vector(1));
  m.compile(LossKind::MeanSquaredError, SGD<float>(SGDOptions{1e15}));
  FitOptions<float> o;
  o.epochs = 50;
  o.batch_size = 8;
  o.verbose = Verbosity::Silent;
  std::ostringstream out;
  o.out = &out;
  const History h = m.fit(x, y, o);
  CHECK(h.reason == StopReason::NonFiniteWeights);  // float overflow in the update: the step is undone
  CHECK(h.stopped_epoch >= 0);
  CHECK_FALSE(out.str().empty());
  for (Index i = 0; i < m.num_params(); ++i) CHECK(std::isfinite(m.values()[i]));
}

TEST_CASE("fit: bad data and settings are refused up front", "[fit][errors]") {
  Sequential<double> m = mlp(1);
  Tensor<double> x, y;
  separable(20, 1, x, y);
  CHECK_THROWS_WITH(m.fit(x, y, quiet(1, 4)), Catch::Contains("needs a compiled model"));
  CHECK_THROWS_AS(m.train_on_batch(x, y), StateError);
  CHECK_THROWS_AS(m.evaluate(x, y), StateError);
  Sequential<double> unbuilt;
  CHECK_THROWS_WITH(unbuilt.predict(x), Catch::Contains("needs a built model"));
  CHECK_THROWS_AS(unbuilt.compile(LossKind::BinaryCrossentropy, SGD<double>()), StateError);

  m.compile(LossKind::BinaryCrossentropy, SGD<double>(), {Metric::BinaryAccuracy});
  CHECK_THROWS_WITH(m.fit(x, y, quiet(0, 4)), Catch::Contains("epochs must be positive"));
  CHECK_THROWS_WITH(m.fit(x, y, quiet(1, 0)), Catch::Contains("batch_size must be positive"));
  FitOptions<double> o = quiet(1, 4);
  o.validation_split = 1.5;
  CHECK_THROWS_WITH(m.fit(x, y, o), Catch::Contains("validation_split must be in (0, 1)"));
  o.validation_split = -0.1;
  CHECK_THROWS_AS(m.fit(x, y, o), InvalidArgument);
  o.validation_split = 0.99;  // floor(20 * 0.01) = 0 training samples
  CHECK_THROWS_WITH(m.fit(x, y, o), Catch::Contains("leaves no training samples"));
  o.validation_split = 1e-17;  // 1 - 1e-17 rounds to 1: no validation sample
  CHECK_THROWS_WITH(m.fit(x, y, o), Catch::Contains("leaves no validation samples"));
  o.validation_split = 0.2;
  o.validation_x = &x;
  o.validation_y = &y;
  CHECK_THROWS_WITH(m.fit(x, y, o), Catch::Contains("not both"));
  o.validation_split = 0;
  o.validation_y = nullptr;
  CHECK_THROWS_WITH(m.fit(x, y, o), Catch::Contains("given together"));
  CHECK_THROWS_AS(m.evaluate(x, y, 0), InvalidArgument);
  CHECK_THROWS_AS(m.predict(x, -1), InvalidArgument);

  const Tensor<double> x3({20, 3});
  CHECK_THROWS_WITH(m.fit(x3, y, quiet(1, 4)), Catch::Contains("x has shape (20, 3), the model expects (samples, 4)"));
  const Tensor<double> y19({19});
  CHECK_THROWS_WITH(m.fit(x, y19, quiet(1, 4)), Catch::Contains("y has 19 samples, x has 20"));
  const Tensor<double> y2({20, 2});
  CHECK_THROWS_WITH(m.fit(x, y2, quiet(1, 4)), Catch::Contains("y has shape (20, 2)") && Catch::Contains("1 outputs"));
  Tensor<double> xn = x;
  xn(3, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(m.fit(xn, y, quiet(1, 4)),
                    Catch::Contains("non-finite value") && Catch::Contains("sample 3") && Catch::Contains("feature 2"));
  Tensor<double> yn = y;
  yn(5) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(m.fit(x, yn, quiet(1, 4)), Catch::Contains("label of sample 5"));
  CHECK_THROWS_AS(m.evaluate(xn, y), InvalidArgument);
  CHECK_THROWS_AS(m.predict(x3), ShapeError);
  const Tensor<double> empty({0, 4});
  CHECK_THROWS_WITH(m.predict(empty), Catch::Contains("no samples"));
}

TEST_CASE("fit: token ids out of range are refused, naming sample and step", "[fit][errors]") {
  Sequential<float> m;
  m.add(Dense<float>(1, Activation::Sigmoid));
  m.build(Shape::one_hot(3, 5));  // Dense on every step of a one-hot sequence
  m.compile(LossKind::BinaryCrossentropy, SGD<float>());
  Tensor<float> x({2, 3}, 1.0f), y({2, 3, 1}, 0.0f);
  CHECK_NOTHROW(m.train_on_batch(x, y));
  x(1, 2) = 5;
  CHECK_THROWS_WITH(m.train_on_batch(x, y),
                    Catch::Contains("token id 5 at sample 1, step 2 is not an integer in [0, 5)"));
  x(1, 2) = 1.5f;
  CHECK_THROWS_AS(m.predict(x), InvalidArgument);
  x(1, 2) = -1;
  CHECK_THROWS_AS(m.predict(x), InvalidArgument);
}

TEST_CASE("fit: sequence outputs are gathered and scattered per step", "[fit]") {
  // Dense(2) applied at each of 3 steps: predict must return (samples, steps, outputs) in sample order.
  Sequential<double> m(SequentialOptions{2, 2});
  Dense<double>& d = m.add(Dense<double>(2));
  m.build(Shape::sequence(3, 2));
  const Index n = 5;
  Tensor<double> x({n, 3, 2});
  Rng r(1);
  for (double& v : x.values()) v = r.uniform(-1, 1);
  const Tensor<double> p = m.predict(x, 2);
  REQUIRE(p.shape() == std::vector<Index>{n, 3, 2});
  for (Index i = 0; i < n; ++i)
    for (Index t = 0; t < 3; ++t)
      for (Index u = 0; u < 2; ++u)
        CHECK(p.at({i, t, u}) ==
              Approx(x.at({i, t, 0}) * d.param(0)(0, u) + x.at({i, t, 1}) * d.param(0)(1, u) + d.param(1)(0, u)));
  // MSE on per-step targets equals the mean over samples and steps.
  m.compile(LossKind::MeanSquaredError, SGD<double>());
  Tensor<double> y({n, 3, 2}, 0.25);
  double want = 0;
  for (Index i = 0; i < p.size(); ++i)
    want += (p.values()[static_cast<std::size_t>(i)] - 0.25) * (p.values()[static_cast<std::size_t>(i)] - 0.25);
  want /= static_cast<double>(n * 3 * 2);
  CHECK(m.evaluate(x, y, 2).loss == Approx(want).epsilon(1e-12));
}

TEST_CASE("fit: verbose modes print Keras-like epochs", "[fit][progress]") {
  Tensor<double> x, y;
  separable(50, 3, x, y);
  Sequential<double> m = mlp(2);
  m.compile(LossKind::BinaryCrossentropy, SGD<double>(), {Metric::BinaryAccuracy});
  std::ostringstream bar, line;
  FitOptions<double> o = quiet(2, 10);
  o.validation_x = &x;
  o.validation_y = &y;
  o.verbose = Verbosity::ProgressBar;
  o.out = &bar;
  m.fit(x, y, o);
  CHECK(bar.str().find("Epoch 1/2\n") == 0);
  CHECK(bar.str().find("Epoch 2/2\n") != std::string::npos);
  CHECK(bar.str().find("5/5 [==============================] - ") != std::string::npos);
  CHECK(bar.str().find(" - loss: ") != std::string::npos);
  CHECK(bar.str().find(" - val_accuracy: ") != std::string::npos);
  o.verbose = Verbosity::OneLinePerEpoch;
  o.out = &line;
  m.fit(x, y, o);
  CHECK(line.str().find('\r') == std::string::npos);
  CHECK(line.str().find("Epoch 2/2\n5/5 - ") != std::string::npos);
}

TEST_CASE("fit: Embedding input, ids checked against input_dim, dropout masks fixed by the seed",
          "[fit][determinism]") {
  // Per-step labels: 1 when the id at that step is even.
  const Index n = 64, steps = 3;
  Rng r(5);
  Tensor<float> x({n, steps}), y({n, steps});
  for (Index i = 0; i < n; ++i)
    for (Index t = 0; t < steps; ++t) {
      x(i, t) = static_cast<float>(r.below(20));
      y(i, t) = static_cast<int>(x(i, t)) % 2 == 0 ? 1.0f : 0.0f;
    }
  auto make = [](std::uint64_t seed) {
    Sequential<float> m(SequentialOptions{seed});
    m.add(Embedding<float>(20, 8));
    m.add(Dropout<float>(0.3));
    m.add(Dense<float>(1, Activation::Sigmoid));
    m.build(Shape::ids(steps));
    m.compile(LossKind::BinaryCrossentropy, Adam<float>(AdamOptions{0.05}), {Metric::BinaryAccuracy});
    return m;
  };
  FitOptions<float> o;
  o.epochs = 30;
  o.batch_size = 16;
  o.verbose = Verbosity::Silent;
  Sequential<float> a = make(3), b = make(3), c = make(3);
  a.fit(x, y, o);
  b.fit(x, y, o);
  CHECK(a.get_weights() == b.get_weights());
  CHECK(a.evaluate(x, y).get("accuracy") > 0.95);
  // Dropout draws from the model's Rng: a different dropout stream changes the result.
  c.rng().next_u64();
  c.fit(x, y, o);
  CHECK(c.get_weights() != a.get_weights());

  Tensor<float> bad = x;
  bad(7, 1) = 20;
  CHECK_THROWS_WITH(a.fit(bad, y, o), Catch::Contains("token id 20 at sample 7, step 1 is not an integer in [0, 20)"));
  bad(7, 1) = -3;
  CHECK_THROWS_AS(a.predict(bad), InvalidArgument);
}

namespace {
// Sequences of `steps` ids in [3, 10); the label is set by the FIRST token (1 or 2), the rest is noise.
void first_token_task(Index n, Index steps, std::uint64_t seed, Tensor<float>& x, Tensor<float>& y) {
  Rng r(seed);
  x = Tensor<float>({n, steps});
  y = Tensor<float>({n});
  for (Index i = 0; i < n; ++i) {
    const bool pos = r.below(2) == 1;
    x(i, 0) = pos ? 1.0f : 2.0f;
    for (Index t = 1; t < steps; ++t) x(i, t) = static_cast<float>(3 + r.below(7));
    y(i) = pos ? 1.0f : 0.0f;
  }
}
}  // namespace

TEST_CASE("fit: an LSTM learns to remember the first token of a sequence", "[fit][learning][lstm]") {
  Tensor<float> x, y, tx, ty;
  first_token_task(256, 12, 1, x, y);
  first_token_task(200, 12, 2, tx, ty);
  Sequential<float> m(SequentialOptions{7, 2});
  m.add(Embedding<float>(10, 8));
  m.add(LSTM<float>(8));
  m.add(Dense<float>(1, Activation::Sigmoid));
  m.build(Shape::ids(12));
  m.compile(LossKind::BinaryCrossentropy, Adam<float>(AdamOptions{0.02}), {Metric::BinaryAccuracy});
  FitOptions<float> o;
  o.epochs = 25;
  o.batch_size = 32;
  o.verbose = Verbosity::Silent;
  const History h = m.fit(x, y, o);
  CHECK(h.series("accuracy").front() < 0.8);
  CHECK(m.evaluate(tx, ty).get("accuracy") > 0.95);
}

TEST_CASE("fit: threads give the one-thread gradient through recurrent layers", "[fit][threads][lstm]") {
  Tensor<float> xf, yf;
  first_token_task(23, 6, 3, xf, yf);
  const Tensor<double> x = xf.cast<double>(), y = yf.cast<double>();
  auto make = [](int threads) {
    Sequential<double> m(SequentialOptions{13, threads});
    m.add(Embedding<double>(10, 4));
    m.add(LSTM<double>(5, LSTMOptions{true}));
    m.add(GRU<double>(3));
    m.add(Dense<double>(1, Activation::Sigmoid));
    m.build(Shape::ids(6));
    m.compile(LossKind::BinaryCrossentropy, SGD<double>(), {Metric::BinaryAccuracy});
    return m;
  };
  Sequential<double> one = make(1), two = make(2);
  CHECK(two.compute_gradients(x, y) == Approx(one.compute_gradients(x, y)).epsilon(1e-13));
  double worst = 0;
  for (Index i = 0; i < one.num_params(); ++i)
    worst = std::max(worst, std::abs(one.gradients()[i] - two.gradients()[i]));
  CHECK(worst < 1e-12);
  CHECK(Eigen::Map<const Vector<double>>(one.gradients(), one.num_params()).cwiseAbs().maxCoeff() > 1e-4);
}

TEST_CASE("fit: threads share the products over a batch's distinct ids and give the one-thread gradient",
          "[fit][threads][fused]") {
  // 96 samples of 6 ids below 400 in a table of 1,000 rows of 32 features: on one thread the recurrent
  // layer reads the batch's distinct ids (about 300) through the table; on 2 and 3 threads the replicas
  // share one table of the batch's distinct ids (detail::SharedDistinct), a share of its products on each
  // thread, in chunks of kDistinctChunk ids and a shorter last one.
  Rng r(4);
  Tensor<double> x({96, 6}), y({96});
  for (Index i = 0; i < 96; ++i) {
    for (Index t = 0; t < 6; ++t) x(i, t) = static_cast<double>(r.below(400));
    y(i) = static_cast<double>(r.below(2));
  }
  for (int kind = 0; kind < 4; ++kind) {
    INFO("kind " << kind);
    auto make = [&](int threads) {
      Sequential<double> m(SequentialOptions{21, threads});
      m.add(Embedding<double>(1000, Recurrent<double>::kDistinctMinFeatures));
      if (kind == 0) m.add(LSTM<double>(5));
      if (kind == 1) m.add(GRU<double>(4));
      if (kind == 2) m.add(SimpleRNN<double>(3));
      if (kind == 3) m.add(Bidirectional<double>(LSTM<double>(4)));
      m.add(Dense<double>(1, Activation::Sigmoid));
      m.build(Shape::ids(6));
      m.compile(LossKind::BinaryCrossentropy, SGD<double>());
      return m;
    };
    auto reader = [&](Sequential<double>& m) -> const Recurrent<double>& {
      if (kind == 3)
        return dynamic_cast<const Recurrent<double>&>(
            dynamic_cast<const Bidirectional<double>&>(m.layer(1)).backward_layer());
      return dynamic_cast<const Recurrent<double>&>(m.layer(1));
    };
    Sequential<double> one = make(1);
    const double loss = one.compute_gradients(x, y);
    CHECK_FALSE(reader(one).read_shared_table());
    for (int threads : {2, 3}) {
      INFO(threads << " threads");
      Sequential<double> many = make(threads);
      CHECK(many.compute_gradients(x, y) == Approx(loss).epsilon(1e-13));
      CHECK(reader(many).read_shared_table());
      double worst = 0;
      for (Index i = 0; i < one.num_params(); ++i)
        worst = std::max(worst, std::abs(one.gradients()[i] - many.gradients()[i]));
      CHECK(worst < 1e-12);
      // The Embedding's rows of the ids in the batch get a gradient, the others none.
      const auto dE = Eigen::Map<const Matrix<double>>(many.gradients(), 1000, Recurrent<double>::kDistinctMinFeatures);
      Index present = 0;
      for (Index id = 0; id < 1000; ++id) {
        const bool in_batch = std::find(x.data(), x.data() + x.size(), double(id)) != x.data() + x.size();
        present += in_batch ? 1 : 0;
        CHECK((dE.row(id).squaredNorm() > 0.0) == in_batch);
      }
      CHECK(present > detail::kDistinctChunk * threads);  // more than one chunk a thread
      many.evaluate(x, y);  // evaluation after a shared step reads the table of its own batch
      CHECK_FALSE(reader(many).read_shared_table());
      many.set_threads(1);  // back to one thread: the layer's own table again
      CHECK(many.compute_gradients(x, y) == Approx(loss).epsilon(1e-13));
      CHECK_FALSE(reader(many).read_shared_table());
      // A training step's timing counts the shared products, inside its slices phase.
      Sequential<double> timed = make(threads);
      timed.train_on_batch(x, y);
      CHECK(reader(timed).read_shared_table());
      CHECK(timed.step_timing().shared > 0.0);
      CHECK(timed.step_timing().shared < timed.step_timing().slices);
    }
    one.train_on_batch(x, y);
    CHECK(one.step_timing().steps == 1);
    CHECK(one.step_timing().shared == 0.0);
  }
}

TEST_CASE("fit: the optimizer step in pieces on two threads follows the one-thread step", "[fit][threads]") {
  // Over 2,048 parameters, so that the sum of the replicas' gradients, the clipping, the snapshot and the
  // optimizer's update run as one piece per thread.
  Tensor<float> xf, yf;
  first_token_task(40, 6, 4, xf, yf);
  const Tensor<double> x = xf.cast<double>(), y = yf.cast<double>();
  for (int variant = 0; variant < 3; ++variant) {
    auto make = [&](int threads) {
      Sequential<double> m(SequentialOptions{21, threads});
      m.add(Embedding<double>(300, 8));
      m.add(LSTM<double>(8));
      m.add(Dense<double>(1, Activation::Sigmoid));
      m.build(Shape::ids(6));
      CompileOptions c;
      if (variant == 1) c.clipvalue = 0.01;
      if (variant == 2) c.global_clipnorm = 0.05;
      if (variant == 0)
        m.compile(LossKind::BinaryCrossentropy, Adam<double>(AdamOptions{0.01}), {}, c);
      else
        m.compile(LossKind::BinaryCrossentropy, RMSprop<double>(RMSpropOptions{0.01}), {}, c);
      return m;
    };
    Sequential<double> one = make(1), two = make(2);
    REQUIRE(one.num_params() > 2048);
    const std::vector<double> w0 = one.get_weights();
    for (int s = 0; s < 4; ++s) CHECK(two.train_on_batch(x, y) == Approx(one.train_on_batch(x, y)).epsilon(1e-12));
    INFO("variant " << variant);
    double worst = 0, moved = 0;
    for (Index i = 0; i < one.num_params(); ++i) {
      worst = std::max(worst, std::abs(one.values()[i] - two.values()[i]));
      moved = std::max(moved, std::abs(one.values()[i] - w0[static_cast<std::size_t>(i)]));
    }
    CHECK(worst < 1e-12);
    CHECK(moved > 1e-3);
    CHECK(two.optimizer().iterations() == 4);
  }
}

TEST_CASE("fit: a NaN gradient on two threads undoes the whole step", "[fit][nan][threads]") {
  // The NaN reaches the first layer's gradient only (its 40 values lie in the first of the two pieces of the
  // parameters); the second piece is updated with finite values and must be restored as well.
  Tensor<double> x, y;
  separable(30, 13, x, y);
  Sequential<double> m(SequentialOptions{4, 2});
  m.add(Dense<double>(8, Activation::Tanh));
  m.add(PoisonAt<double>(4, /*in_backward=*/true));  // each replica has its own: both turn NaN at step 4
  m.add(Dense<double>(400, Activation::Tanh));
  m.add(Dense<double>(1, Activation::Sigmoid));
  m.build(Shape::vector(4));
  REQUIRE(m.num_params() > 2048);
  m.compile(LossKind::BinaryCrossentropy, SGD<double>(SGDOptions{0.1}));
  for (int s = 0; s < 3; ++s) CHECK(std::isfinite(m.train_on_batch(x, y)));
  const std::vector<double> w = m.get_weights();
  CHECK(std::isfinite(m.train_on_batch(x, y)));
  CHECK(m.step_status() == StepStatus::NonFiniteGradient);
  CHECK(m.get_weights() == w);
  CHECK(std::isfinite(m.train_on_batch(x, y)));
  CHECK(m.step_status() == StepStatus::Ok);
  CHECK(m.get_weights() != w);
}

TEST_CASE("fit: a NaN gradient under a finite loss undoes the step", "[fit][nan]") {
  Tensor<double> x, y;
  separable(30, 13, x, y);
  for (double clipnorm : {0.0, 1.0}) {
    Sequential<double> m(SequentialOptions{4});
    m.add(Dense<double>(3, Activation::Tanh));
    m.add(PoisonAt<double>(4, /*in_backward=*/true));
    m.add(Dense<double>(1, Activation::Sigmoid));
    m.build(Shape::vector(4));
    m.compile(LossKind::BinaryCrossentropy, SGD<double>(SGDOptions{0.1}), {}, CompileOptions{clipnorm});
    for (int s = 0; s < 3; ++s) CHECK(std::isfinite(m.train_on_batch(x, y)));
    const std::vector<double> w = m.get_weights();
    CHECK(std::isfinite(m.train_on_batch(x, y)));  // the loss is fine, the first layer's gradient is NaN
    CHECK(m.step_status() == StepStatus::NonFiniteGradient);
    CHECK(m.get_weights() == w);
    CHECK(m.optimizer().iterations() == (clipnorm > 0 ? 3 : 4));  // with clipping the norm check comes first
    FitOptions<double> o = quiet(2, 30);
    std::ostringstream out;
    o.out = &out;
    Sequential<double> f(SequentialOptions{4});
    f.add(Dense<double>(3, Activation::Tanh));
    f.add(PoisonAt<double>(2, true));
    f.add(Dense<double>(1, Activation::Sigmoid));
    f.build(Shape::vector(4));
    f.compile(LossKind::BinaryCrossentropy, SGD<double>(SGDOptions{0.1}), {}, CompileOptions{clipnorm});
    const History h = f.fit(x, y, o);
    CHECK(h.reason == StopReason::NonFiniteWeights);
    CHECK(h.stopped_epoch == 1);
    CHECK(out.str().find("non-finite gradient") != std::string::npos);
  }
}

}  // namespace test_fit
