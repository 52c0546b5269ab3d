#include <catch2/catch.hpp>
#include <seqnet/detail/float_env.hpp>
#include <seqnet/detail/thread_pool.hpp>
#include <seqnet/layers/dense.hpp>
#include <seqnet/model/sequential.hpp>
#include <seqnet/optim/sgd.hpp>

#include <limits>
#include <vector>

namespace test_float_env {

using namespace seqnet;

// Half the smallest normal float: a denormal result, unless denormals are flushed to zero. volatile keeps the
// compiler from folding the product at compile time.
float half_of_smallest_normal() {
  volatile float x = std::numeric_limits<float>::min();
  volatile float half = 0.5f;
  return x * half;
}

TEST_CASE("Denormals: ScopedFloatEnv flushes them inside its scope and restores the word after", "[float_env]") {
  if (!detail::kCanFlushDenormals) {
    WARN("no floating-point control word to set on this CPU");
    CHECK(detail::flush_denormals(detail::float_env()) == detail::float_env());
    return;
  }
  const detail::FloatEnv before = detail::float_env();
  REQUIRE(half_of_smallest_normal() > 0.0f);
  {
    const detail::ScopedFloatEnv env(detail::flush_denormals(before));
    CHECK(half_of_smallest_normal() == 0.0f);
    CHECK(detail::float_env() == detail::flush_denormals(before));
  }
  CHECK(detail::float_env() == before);
  CHECK(half_of_smallest_normal() > 0.0f);
  // Restored when an exception leaves the scope.
  try {
    const detail::ScopedFloatEnv env(detail::flush_denormals(before));
    throw std::runtime_error("leaving the scope");
  } catch (const std::runtime_error&) {
  }
  CHECK(detail::float_env() == before);
}

TEST_CASE("Denormals: the thread pool's workers run each task under the caller's control word", "[float_env]") {
  if (!detail::kCanFlushDenormals) {
    WARN("no floating-point control word to set on this CPU");
    return;
  }
  detail::ThreadPool pool(2);
  std::vector<float> got(3, -1.0f);
  const auto run = [&] { pool.run(3, [&](int k) { got[static_cast<std::size_t>(k)] = half_of_smallest_normal(); }); };
  run();
  for (float v : got) CHECK(v > 0.0f);
  {
    const detail::ScopedFloatEnv env(detail::flush_denormals(detail::float_env()));
    run();
  }
  for (float v : got) CHECK(v == 0.0f);
  // The workers went back to their own word: without the caller's scope they compute denormals again.
  run();
  for (float v : got) CHECK(v > 0.0f);
}

// Dense(1, linear) on one feature, kernel 1e-20 and bias 0: the output for an input of 1e-20 is 1e-40, a
// denormal float.
Sequential<float> tiny_model(bool flush, int threads) {
  Sequential<float> m(SequentialOptions{1, threads, "tiny", flush});
  m.add(Dense<float>(1));
  m.build(Shape::vector(1));
  m.set_weights({1e-20f, 0.0f});
  m.compile(LossKind::MeanSquaredError, SGD<float>(SGDOptions{0.1}));
  return m;
}

TEST_CASE("Denormals: a model flushes them in predict, evaluate and training unless told not to",
          "[float_env][sequential]") {
  if (!detail::kCanFlushDenormals) {
    WARN("no floating-point control word to set on this CPU");
    return;
  }
  const Index n = 6;
  Tensor<float> x({n, 1}), y({n, 1});
  for (Index i = 0; i < n; ++i) {
    x(i, 0) = 1e-20f;
    y(i, 0) = 0.0f;
  }
  const detail::FloatEnv before = detail::float_env();
  for (int threads : {1, 2}) {
    INFO("threads " << threads);
    Sequential<float> flushing = tiny_model(true, threads), exact = tiny_model(false, threads);
    CHECK(flushing.flush_denormals());
    CHECK_FALSE(exact.flush_denormals());
    // predict, on every slice (the worker's too at 2 threads).
    const Tensor<float> pf = flushing.predict(x), pe = exact.predict(x);
    for (Index i = 0; i < n; ++i) {
      CHECK(pf(i, 0) == 0.0f);
      CHECK(pe(i, 0) == Approx(1e-40).epsilon(1e-3));
    }
    // evaluate: the squared error of 1e-40 underflows to 0 either way; the call must leave the word alone.
    flushing.evaluate(x, y);
    CHECK(detail::float_env() == before);
    // Training: the bias gradient of the mean squared error is 2 (out - y) = 2e-40, a denormal.
    flushing.compute_gradients(x, y);
    exact.compute_gradients(x, y);
    CHECK(flushing.gradients()[1] == 0.0f);
    CHECK(exact.gradients()[1] == Approx(2e-40).epsilon(1e-3));
    flushing.train_on_batch(x, y);
    exact.train_on_batch(x, y);
    CHECK(flushing.get_weights()[1] == 0.0f);
    CHECK(exact.get_weights()[1] == Approx(-0.1 * 2e-40).epsilon(1e-2));
    CHECK(detail::float_env() == before);
    // The setting can be changed on a built model.
    exact.set_flush_denormals(true);
    CHECK(exact.predict(x)(0, 0) == 0.0f);
  }
}

}  // namespace test_float_env
