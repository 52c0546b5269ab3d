// Long-range memory: the label is the sign of a key value at the start of a sequence, followed by 40
// distractor steps. Each step has two features: a value and a flag. The key step holds +1 or -1 with flag 1;
// every later step holds a distractor of +2 or -2 (random) in the SAME value channel, with flag 0. So the
// input weights cannot filter the distractors out: the layer must write its state at the flagged step and
// keep it through 40 steps of larger inputs. LSTM and GRU can (a gate driven by the flag); SimpleRNN, whose
// state is overwritten by every input through tanh(x W + h U + b), cannot.
//
// Training sequences put the key at a random position p in [0, 40] (zeros before it, as pre-padded
// sequences are), so lags from 0 to 40 steps all occur; the held-out sequences put it at step 0, so every
// one of them needs the full 40-step lag.
//
// Measured with these settings (1,024 training sequences, 512 held-out, 16 units, Adam 0.01, batch 32,
// 20 epochs, one thread) over model seeds 1 to 6 and data seeds 1 to 3 (18 runs per layer): LSTM and GRU
// reached 1.000 held-out accuracy in all 18 runs; SimpleRNN averaged 0.51 (chance is 0.5), 16 runs between
// 0.47 and 0.56, one at 0.36 and one at 0.85 (model seed 2, data seed 1).
// The hidden test case at the end reruns that grid and prints every accuracy:
//   build/tests/seqnet_tests "[seeds]" -s
// The test run by ctest uses model seed 1 and data seed 1; about 0.5 s per gated layer in a Release build.
#include <catch2/catch.hpp>
#include <seqnet/layers/dense.hpp>
#include <seqnet/layers/gru.hpp>
#include <seqnet/layers/lstm.hpp>
#include <seqnet/layers/simple_rnn.hpp>
#include <seqnet/model/sequential.hpp>
#include <seqnet/optim/adam.hpp>

#include <algorithm>
#include <cmath>

namespace test_long_range_memory {

using namespace seqnet;

namespace {

constexpr Index kSteps = 41;  // the key, then 40 distractors (held-out sequences)

// n sequences of kSteps x 2 features; `vary` puts the key at a random step instead of step 0.
void memory_task(Index n, bool vary, std::uint64_t seed, Tensor<float>& x, Tensor<float>& y) {
  Rng r(seed);
  x = Tensor<float>({n, kSteps, 2});  // zero-filled
  y = Tensor<float>({n});
  for (Index i = 0; i < n; ++i) {
    const bool positive = r.below(2) == 1;
    const Index p = vary ? static_cast<Index>(r.below(kSteps)) : 0;
    x(i, p, 0) = positive ? 1.0f : -1.0f;
    x(i, p, 1) = 1.0f;
    for (Index t = p + 1; t < kSteps; ++t) x(i, t, 0) = r.below(2) == 1 ? 2.0f : -2.0f;
    y(i) = positive ? 1.0f : 0.0f;
  }
}

// Data seed d: training sequences from seed 2d + 1, held-out ones from seed 2d + 1000.
template <class L>
double held_out_accuracy(const L& layer, std::uint64_t model_seed = 1, std::uint64_t data_seed = 1) {
  Tensor<float> x, y, tx, ty;
  memory_task(1024, true, 2 * data_seed + 1, x, y);
  memory_task(512, false, 2 * data_seed + 1000, tx, ty);
  Sequential<float> m(SequentialOptions{model_seed, 1, "memory"});
  m.add(layer);
  m.add(Dense<float>(1, Activation::Sigmoid));
  m.build(Shape::sequence(kSteps, 2));
  m.compile(LossKind::BinaryCrossentropy, Adam<float>(AdamOptions{0.01}), {Metric::BinaryAccuracy});
  FitOptions<float> o;
  o.epochs = 20;
  o.batch_size = 32;
  o.verbose = Verbosity::Silent;
  m.fit(x, y, o);
  return m.evaluate(tx, ty).get("accuracy");
}

}  // namespace

TEST_CASE("Long-range memory: held-out sequences put the key at step 0, followed by 40 distractors", "[learning]") {
  Tensor<float> x, y;
  memory_task(4, false, 5, x, y);
  for (Index i = 0; i < 4; ++i) {
    CHECK(std::abs(x(i, 0, 0)) == 1.0f);
    CHECK(x(i, 0, 1) == 1.0f);
    CHECK(y(i) == (x(i, 0, 0) > 0 ? 1.0f : 0.0f));
    for (Index t = 1; t < kSteps; ++t) {
      CHECK(std::abs(x(i, t, 0)) == 2.0f);
      CHECK(x(i, t, 1) == 0.0f);
    }
  }
}

TEST_CASE("Long-range memory: LSTM and GRU carry the key across 40 distractors, SimpleRNN does not",
          "[learning][lstm][gru][simple_rnn]") {
  const double lstm = held_out_accuracy(LSTM<float>(16));
  const double gru = held_out_accuracy(GRU<float>(16));
  const double rnn = held_out_accuracy(SimpleRNN<float>(16));
  INFO("held-out accuracy: LSTM " << lstm << ", GRU " << gru << ", SimpleRNN " << rnn);
  CHECK(lstm >= 0.95);
  CHECK(gru >= 0.95);
  CHECK(rnn <= 0.75);
  CHECK(std::min(lstm, gru) - rnn >= 0.2);
}

// Not run by ctest (hidden tag): the seed grid behind the figures in the header comment. LSTM and GRU must
// pass in every run; SimpleRNN must stay near chance on average (one seed may get lucky).
TEST_CASE("Long-range memory: LSTM and GRU over 6 model seeds and 3 data seeds, SimpleRNN on average",
          "[.][seeds][learning]") {
  double rnn_sum = 0.0;
  int runs = 0;
  for (std::uint64_t d = 1; d <= 3; ++d)
    for (std::uint64_t m = 1; m <= 6; ++m) {
      const double lstm = held_out_accuracy(LSTM<float>(16), m, d);
      const double gru = held_out_accuracy(GRU<float>(16), m, d);
      const double rnn = held_out_accuracy(SimpleRNN<float>(16), m, d);
      WARN("model seed " << m << ", data seed " << d << ": LSTM " << lstm << ", GRU " << gru << ", SimpleRNN " << rnn);
      CHECK(lstm >= 0.95);
      CHECK(gru >= 0.95);
      rnn_sum += rnn;
      ++runs;
    }
  CHECK(rnn_sum / runs <= 0.6);
}

}  // namespace test_long_range_memory
