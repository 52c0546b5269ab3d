// Saving and loading Sequential models (io/model_file.hpp): round trips of every layer type with
// bit-identical predictions, extras, and file-level errors.

#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <seqnet/io/model_file.hpp>
#include <seqnet/layers/bidirectional.hpp>
#include <seqnet/layers/dense.hpp>
#include <seqnet/layers/dropout.hpp>
#include <seqnet/layers/embedding.hpp>
#include <seqnet/layers/gru.hpp>
#include <seqnet/layers/lstm.hpp>
#include <seqnet/layers/simple_rnn.hpp>
#include <seqnet/text/vocabulary.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

namespace test_model_file {

using namespace seqnet;
using seqnet_test::log_of;
using seqnet_test::TempPath;
using seqnet_test::tiny;

namespace {

template <typename T>
Tensor<T> inputs_for(const Shape& s, Index n, std::uint64_t seed, Index vocab = 0) {
  Rng rng(seed);
  std::vector<Index> shape{n};
  if (s.steps > 0) shape.push_back(s.steps);
  if (s.encoding == Encoding::Dense) shape.push_back(s.features);
  Tensor<T> x(shape);
  const Index depth = s.encoding == Encoding::OneHot ? s.features : vocab;
  for (Index i = 0; i < x.size(); ++i)
    x.data()[i] = s.encoding == Encoding::Dense ? static_cast<T>(rng.uniform(-1, 1))
                                                : static_cast<T>(rng.below(static_cast<std::uint64_t>(depth)));
  return x;
}

template <typename T>
bool bit_identical(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<std::size_t>(a.size())) == 0;
}

// Builds a model with `add`, saves it, loads it, and checks layers, weights and predictions are the same.
template <typename T>
void check_round_trip(const Shape& input, const std::function<void(Sequential<T>&)>& add, Index vocab = 0,
                      const ModelExtras& extras = {}) {
  Sequential<T> m(SequentialOptions{17, 1, "roundtrip"});
  add(m);
  m.build(input);
  TempPath tmp("model_file", "roundtrip.seqnet");
  save_model(m, tmp.path, extras);
  ModelExtras back;
  Sequential<T> l = load_model<T>(tmp.path, &back);
  CHECK(back.sections == extras.sections);
  CHECK(l.name() == "roundtrip");
  CHECK(l.seed() == 17);
  CHECK(l.input_shape() == m.input_shape());
  CHECK(l.output_shape() == m.output_shape());
  REQUIRE(l.num_layers() == m.num_layers());
  for (std::size_t i = 0; i < m.num_layers(); ++i) {
    CHECK(l.layer(i).name() == m.layer(i).name());
    CHECK(l.layer(i).type_name() == m.layer(i).type_name());
    CHECK(l.layer(i).config() == m.layer(i).config());
  }
  REQUIRE(l.num_params() == m.num_params());
  CHECK(std::memcmp(l.values(), m.values(), sizeof(T) * static_cast<std::size_t>(m.num_params())) == 0);
  const Tensor<T> x = inputs_for<T>(input, 7, 3, vocab);
  CHECK(bit_identical(l.predict(x), m.predict(x)));
  CHECK(serialize_model(l, back) == serialize_model(m, extras));  // nothing lost: the same bytes again
}

}  // namespace

TEMPLATE_TEST_CASE("Model file: Dense model round-trips with bit-identical predictions", "[model_file]", float,
                   double) {
  check_round_trip<TestType>(Shape::vector(5), [](Sequential<TestType>& m) {
    m.add(Dense<TestType>(8, Activation::Relu));
    m.add(Dense<TestType>(3, Activation::Softmax));
  });
}

TEMPLATE_TEST_CASE("Model file: every recurrent layer type round-trips", "[model_file]", float, double) {
  check_round_trip<TestType>(Shape::sequence(6, 3), [](Sequential<TestType>& m) {
    m.add(SimpleRNN<TestType>(4, SimpleRNNOptions{true}));
    m.add(LSTM<TestType>(5, LSTMOptions{true, true}));
    GRUOptions g;
    g.return_sequences = true;
    m.add(GRU<TestType>(3, g));
    GRUOptions g2;
    g2.reset_after = false;
    m.add(GRU<TestType>(2, g2));
    m.add(Dense<TestType>(1, Activation::Sigmoid));
  });
}

TEMPLATE_TEST_CASE("Model file: Bidirectional in every merge mode round-trips", "[model_file]", float, double) {
  check_round_trip<TestType>(Shape::sequence(4, 3), [](Sequential<TestType>& m) {
    m.add(Bidirectional<TestType>(LSTM<TestType>(3, LSTMOptions{true}), MergeMode::Concat));
    m.add(Bidirectional<TestType>(GRU<TestType>(3, GRUOptions{true}), MergeMode::Sum));
    m.add(Bidirectional<TestType>(SimpleRNN<TestType>(3, SimpleRNNOptions{true}), MergeMode::Average));
    m.add(Bidirectional<TestType>(LSTM<TestType>(2), MergeMode::Multiply));
    m.add(Dense<TestType>(2, Activation::Softmax));
  });
}

TEST_CASE("Model file: one-hot input with SimpleRNN and Dropout round-trips", "[model_file]") {
  check_round_trip<float>(Shape::one_hot(5, 20), [](Sequential<float>& m) {
    m.add(SimpleRNN<float>(6));
    m.add(Dropout<float>(0.3));
    m.add(Dense<float>(1, Activation::Sigmoid));
  });
}

TEST_CASE("Model file: Embedding + LSTM + Dense with a vocabulary section round-trips", "[model_file]") {
  const text::Vocabulary vocab = text::Vocabulary::build({"a good film", "a bad film", "good good acting"});
  ModelExtras extras;
  extras.set("vocabulary", vocab.serialize());
  extras.set("training", "epochs=2");
  const Index input_dim = vocab.size();
  check_round_trip<float>(
      Shape::ids(6),
      [&](Sequential<float>& m) {
        m.add(Embedding<float>(input_dim, 4, EmbeddingOptions{true}));
        m.add(LSTM<float>(3));
        m.add(Dense<float>(1, Activation::Sigmoid));
      },
      input_dim, extras);
  // The vocabulary comes back usable.
  Sequential<float> m;
  m.add(Embedding<float>(input_dim, 4));
  m.build(Shape::ids(6));
  ModelExtras back;
  deserialize_model<float>(serialize_model(m, extras), &back);
  const text::Vocabulary v = text::Vocabulary::deserialize(back.get("vocabulary"));
  CHECK(v.encode("a good film") == vocab.encode("a good film"));
}

TEST_CASE("Model file: a float model loads as double with the same weights", "[model_file]") {
  Sequential<float> m;
  m.add(LSTM<float>(4));
  m.add(Dense<float>(1, Activation::Sigmoid));
  m.build(Shape::sequence(5, 2));
  const std::string bytes = serialize_model(m);
  Sequential<double> d = deserialize_model<double>(bytes);
  REQUIRE(d.num_params() == m.num_params());
  for (Index i = 0; i < m.num_params(); ++i) CHECK(d.values()[i] == static_cast<double>(m.values()[i]));
  const Tensor<float> x = inputs_for<float>(Shape::sequence(5, 2), 4, 9);
  const Tensor<float> pf = m.predict(x);
  const Tensor<double> pd = d.predict(x.cast<double>());
  for (Index i = 0; i < pf.size(); ++i) CHECK(pd.data()[i] == Approx(pf.data()[i]).epsilon(1e-5));
  Sequential<double> md;
  md.add(Dense<double>(1));
  md.build(Shape::vector(2));
  CHECK_THROWS_WITH(deserialize_model<float>(serialize_model(md)), Catch::Contains("float64"));
}

TEST_CASE("Model file: file access errors are IoError naming the path", "[model_file][errors]") {
  Sequential<float> m;
  m.add(Dense<float>(2));
  m.build(Shape::vector(3));
  const std::string missing_dir = "/tmp/seqnet-no-such-folder-" + std::to_string(::getpid()) + "/model.seqnet";
  CHECK_THROWS_AS(save_model(m, missing_dir), IoError);
  CHECK_THROWS_WITH(save_model(m, missing_dir),
                    Catch::Contains(missing_dir) && Catch::Contains("No such file or directory"));
  CHECK_THROWS_WITH(load_model<float>(missing_dir),
                    Catch::Contains(missing_dir) && Catch::Contains("No such file or directory"));
  CHECK_THROWS_WITH(load_model<float>("/tmp"), Catch::Contains("not a regular file"));
  CHECK_THROWS_AS(save_model(m, ""), IoError);
}

TEST_CASE("Model file: a corrupt file on disk names the path and the problem", "[model_file][errors]") {
  Sequential<float> m;
  m.add(Dense<float>(2));
  m.build(Shape::vector(3));
  TempPath tmp("model_file", "corrupt.seqnet");
  save_model(m, tmp.path);
  std::string bytes = serialize_model(m);
  bytes[bytes.size() / 2] ^= 0x20;
  FILE* f = std::fopen(tmp.path.c_str(), "wb");
  REQUIRE(f);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  CHECK_THROWS_AS(load_model<float>(tmp.path), FormatError);
  CHECK_THROWS_WITH(load_model<float>(tmp.path),
                    Catch::Contains("'" + tmp.path + "'") && Catch::Contains("checksum mismatch"));
}

TEST_CASE("Model file: saving an unbuilt model is refused", "[model_file][errors]") {
  Sequential<float> m;
  m.add(Dense<float>(2));
  CHECK_THROWS_AS(serialize_model(m), StateError);
}

TEST_CASE("Model file: saving replaces the previous file and leaves no temporary", "[model_file]") {
  TempPath tmp("model_file", "replace.seqnet");
  Sequential<float> a(SequentialOptions{1}), b(SequentialOptions{2});
  a.add(Dense<float>(2));
  a.build(Shape::vector(3));
  b.add(Dense<float>(4));
  b.build(Shape::vector(3));
  save_model(a, tmp.path);
  save_model(b, tmp.path);
  CHECK(load_model<float>(tmp.path).num_params() == b.num_params());
  const std::string stale = tmp.path + ".tmp." + std::to_string(::getpid()) + ".0";
  CHECK(::access(stale.c_str(), F_OK) != 0);
}

namespace {

// Weights set by formula, so the corpus bytes do not depend on how a compiler rounds the initialisers.
template <typename T>
std::string corpus_entry(Sequential<T>& m, const Shape& input, const ModelExtras& extras = {}) {
  m.build(input);
  for (Index i = 0; i < m.num_params(); ++i) m.values()[i] = static_cast<T>((i % 17) - 8) / T(16);
  return serialize_model(m, extras);
}

std::vector<std::pair<std::string, std::string>> fuzz_corpus() {
  std::vector<std::pair<std::string, std::string>> out;
  {
    Sequential<float> m;
    m.add(Dense<float>(3, Activation::Relu));
    m.add(Dense<float>(1, Activation::Sigmoid));
    out.emplace_back("dense.seqnet", corpus_entry(m, Shape::vector(2)));
  }
  {
    Sequential<double> m;
    m.add(Dense<double>(2, Activation::Softmax));
    out.emplace_back("dense_float64.seqnet", corpus_entry(m, Shape::vector(2)));
  }
  {
    ModelExtras extras;
    extras.set("vocabulary", text::Vocabulary::from_ranked_words({"good", "bad", "film"}).serialize());
    Sequential<float> m;
    m.add(Embedding<float>(7, 3, EmbeddingOptions{true}));
    m.add(LSTM<float>(2));
    m.add(Dense<float>(1, Activation::Sigmoid));
    out.emplace_back("embedding_lstm_vocabulary.seqnet", corpus_entry(m, Shape::ids(4), extras));
  }
  {
    Sequential<float> m;
    GRUOptions g;
    g.reset_after = false;
    m.add(Bidirectional<float>(GRU<float>(2, g), MergeMode::Sum));
    m.add(Dense<float>(1));
    out.emplace_back("bidirectional_gru.seqnet", corpus_entry(m, Shape::sequence(3, 2)));
  }
  {
    Sequential<float> m;
    m.add(SimpleRNN<float>(2, SimpleRNNOptions{true}));
    m.add(Dropout<float>(0.5));
    m.add(Dense<float>(2, Activation::Softmax));
    out.emplace_back("onehot_simplernn_dropout.seqnet", corpus_entry(m, Shape::one_hot(3, 5)));
  }
  return out;
}

}  // namespace

TEST_CASE("Model file: the committed fuzz seed corpus is what the writer produces", "[model_file][fuzz]") {
  // Regenerate after a format change with: SEQNET_UPDATE_CORPUS=1 build/tests/seqnet_tests "[fuzz]"
  const std::string dir = std::string(SEQNET_TEST_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_model_file/";
  const bool update = std::getenv("SEQNET_UPDATE_CORPUS") != nullptr;
  for (const auto& entry : fuzz_corpus()) {
    INFO(entry.first);
    if (update) {
      FILE* f = std::fopen((dir + entry.first).c_str(), "wb");
      REQUIRE(f);
      REQUIRE(std::fwrite(entry.second.data(), 1, entry.second.size(), f) == entry.second.size());
      std::fclose(f);
    }
    CHECK(detail::read_file(dir + entry.first) == entry.second);
    CHECK(entry.second.size() < 2048);  // keep the corpus small
    if (entry.first.find("float64") == std::string::npos)
      CHECK_NOTHROW(deserialize_model<float>(entry.second));
    else
      CHECK_THROWS_AS(deserialize_model<float>(entry.second), FormatError);
  }
}

}  // namespace test_model_file
