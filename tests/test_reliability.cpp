// Bad input across the library (docs/reliability.md): each case gets a seqnet exception whose message says
// what was wrong and where, and leaves the model unchanged. Cases already shown by a component's own tests
// are listed in docs/reliability.md with the test that shows them; this file holds the rest.

#include <catch2/catch.hpp>
#include <seqnet/seqnet.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace test_reliability {

using namespace seqnet;
namespace fs = std::filesystem;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// The message of the seqnet::Error that f throws ("no error" when it throws none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

FitOptions<double> quiet(int epochs, Index batch) {
  FitOptions<double> o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.verbose = Verbosity::Silent;
  o.out = nullptr;
  return o;
}

// Embedding(5, 2) -> LSTM(2) -> Dense(1, sigmoid) on sequences of 3 ids, compiled with SGD.
Sequential<double> id_model() {
  Sequential<double> m(SequentialOptions{7});
  m.add(Embedding<double>(5, 2));
  m.add(LSTM<double>(2));
  m.add(Dense<double>(1, Activation::Sigmoid));
  m.build(Shape::ids(3));
  m.compile(LossKind::BinaryCrossentropy, SGD<double>(SGDOptions{0.1}), {Metric::BinaryAccuracy});
  return m;
}

// A fresh temporary folder, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    const char* base = std::getenv("SEQNET_TEST_BINARY_DIR");
    path = fs::path(base ? base : fs::temp_directory_path().string()) /
           ("reliability_" + std::to_string(::getpid()) + "_" + tag);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    const fs::path p = path / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
};

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("Reliability: token ids that are negative, fractional, NaN, infinite or too large are refused",
          "[reliability][errors]") {
  Sequential<double> m = id_model();
  Tensor<double> x({2, 3}, 1.0), y({2}, 0.0);
  const std::vector<double> w0 = m.get_weights();
  const struct {
    double id;
    const char* shown;
  } cases[] = {{5, "token id 5 "},      {1e9, "token id 1000000000 "}, {-1, "token id -1 "},     {2.5, "token id 2.5 "},
               {kNaN, "token id nan "}, {kInf, "token id inf "},       {-kInf, "token id -inf "}};
  for (const auto& c : cases) {
    INFO(c.shown);
    x(1, 2) = c.id;
    const std::string msg = error_of([&] { m.fit(x, y, quiet(1, 2)); });
    CHECK_THAT(msg,
               Catch::Contains(std::string("fit(): ") + c.shown + "at sample 1, step 2 is not an integer in [0, 5)"));
    CHECK_THROWS_AS(m.train_on_batch(x, y), InvalidArgument);
    CHECK_THROWS_AS(m.evaluate(x, y), InvalidArgument);
    CHECK_THROWS_WITH(m.predict(x), Catch::Contains("predict(): ") && Catch::Contains(c.shown));
  }
  // Nothing was trained on the bad batches.
  CHECK(m.get_weights() == w0);
  CHECK(m.optimizer().iterations() == 0);
  x(1, 2) = 4;  // the largest valid id
  CHECK_NOTHROW(m.predict(x));
}

TEST_CASE("Reliability: NaN and infinite inputs and labels are refused naming sample, step and feature",
          "[reliability][errors]") {
  Sequential<double> m(SequentialOptions{3});
  m.add(LSTM<double>(2, LSTMOptions{}));
  m.add(Dense<double>(1, Activation::Sigmoid));
  m.build(Shape::sequence(3, 2));
  m.compile(LossKind::BinaryCrossentropy, SGD<double>());
  Tensor<double> x({4, 3, 2}, 0.5), y({4, 1}, 1.0);
  x(2, 1, 1) = -kInf;
  CHECK_THROWS_WITH(m.fit(x, y, quiet(1, 4)),
                    Catch::Contains("x has a non-finite value (-inf) at sample 2, step 1, feature 1"));
  x(2, 1, 1) = kNaN;
  CHECK_THROWS_AS(m.predict(x), InvalidArgument);
  x(2, 1, 1) = 0.5;
  y(3, 0) = kNaN;
  CHECK_THROWS_WITH(m.fit(x, y, quiet(1, 4)), Catch::Contains("label of sample 3") && Catch::Contains("is nan"));
  y(3, 0) = 0.5;
  CHECK_NOTHROW(m.train_on_batch(x, y));  // soft labels in [0, 1] are fine, as in Keras

  // A label at a later step of a sequence output names the sample and the step, not the row.
  Sequential<double> s;
  s.add(Dense<double>(1));
  s.build(Shape::sequence(3, 2));
  s.compile(LossKind::MeanSquaredError, SGD<double>());
  Tensor<double> xs({4, 3, 2}, 0.5), ys({4, 3, 1}, 1.0);
  ys(1, 2, 0) = kInf;
  CHECK_THROWS_WITH(s.fit(xs, ys, quiet(1, 4)), Catch::Contains("label of sample 1, step 2"));
  CHECK_THROWS_AS(s.evaluate(xs, ys), InvalidArgument);
}

TEST_CASE("Reliability: batch size, epochs and validation split outside their range are refused",
          "[reliability][errors]") {
  Sequential<double> m = id_model();
  Tensor<double> x({10, 3}, 1.0), y({10}, 1.0);
  CHECK_THROWS_WITH(m.fit(x, y, quiet(1, -3)), Catch::Contains("batch_size must be positive, got -3"));
  CHECK_THROWS_WITH(m.fit(x, y, quiet(-1, 2)), Catch::Contains("epochs must be positive, got -1"));
  CHECK_THROWS_WITH(m.evaluate(x, y, -1), Catch::Contains("evaluate(): batch_size must be positive"));
  CHECK_THROWS_WITH(m.predict(x, 0), Catch::Contains("predict(): batch_size must be positive"));
  for (double split : {1.0, kNaN, kInf, -kInf, -0.5}) {
    FitOptions<double> o = quiet(1, 2);
    o.validation_split = split;
    INFO(split);
    CHECK_THROWS_WITH(m.fit(x, y, o), Catch::Contains("validation_split must be in (0, 1)"));
  }
  CHECK(m.optimizer().iterations() == 0);
}

TEST_CASE("Reliability: labels that do not match the samples or the output are refused", "[reliability][errors]") {
  // Softmax over 3 classes: sparse labels are one class id per sample, one-hot labels 3 per sample.
  Sequential<double> m;
  m.add(Dense<double>(3, Activation::Softmax));
  m.build(Shape::vector(2));
  m.compile(LossKind::SparseCategoricalCrossentropy, SGD<double>());
  Tensor<double> x({4, 2}, 0.1), y({4}, 2.0);
  CHECK_NOTHROW(m.train_on_batch(x, y));
  y(1) = 3;
  CHECK_THROWS_WITH(m.fit(x, y, quiet(1, 2)), Catch::Contains("class id 3 of sample 1 is not an integer in [0, 3)"));
  y(1) = 1.5;
  CHECK_THROWS_AS(m.evaluate(x, y), InvalidArgument);
  y(1) = -1;
  CHECK_THROWS_AS(m.train_on_batch(x, y), InvalidArgument);
  const Tensor<double> y5({5}, 0.0);
  CHECK_THROWS_WITH(m.fit(x, y5, quiet(1, 2)), Catch::Contains("y has 5 samples, x has 4"));
  const Tensor<double> y43({4, 3}, 0.0);
  CHECK_THROWS_WITH(m.fit(x, y43, quiet(1, 2)),
                    Catch::Contains("y has shape (4, 3)") && Catch::Contains("one class id per sample"));
  m.compile(LossKind::CategoricalCrossentropy, SGD<double>());
  CHECK_NOTHROW(m.train_on_batch(x, y43));
  const Tensor<double> y42({4, 2}, 0.0);
  CHECK_THROWS_WITH(m.train_on_batch(x, y42), Catch::Contains("y has shape (4, 2)") && Catch::Contains("3 outputs"));
  // Validation data is checked like the training data, before any step.
  FitOptions<double> o = quiet(1, 2);
  o.validation_x = &x;
  o.validation_y = &y42;
  CHECK_THROWS_WITH(m.fit(x, y43, o), Catch::Contains("fit() validation data: y has shape (4, 2)"));
  CHECK(m.optimizer().iterations() == 1);
}

TEST_CASE("Reliability: a model used before build or compile says which call it needs", "[reliability][errors]") {
  Tensor<double> x({2, 3}, 1.0), y({2}, 0.0);
  Sequential<double> none;
  CHECK_THROWS_WITH(none.build(Shape::ids(3)), Catch::Contains("needs at least one layer"));
  Sequential<double> unbuilt;
  unbuilt.add(Embedding<double>(5, 2));
  const std::vector<std::pair<const char*, std::function<void()>>> calls{
      {"fit()", [&] { unbuilt.fit(x, y, quiet(1, 1)); }},
      {"evaluate()", [&] { unbuilt.evaluate(x, y); }},
      {"predict()", [&] { unbuilt.predict(x); }},
      {"train_on_batch()", [&] { unbuilt.train_on_batch(x, y); }},
      {"compute_gradients()", [&] { unbuilt.compute_gradients(x, y); }},
      {"summary()", [&] { (void)unbuilt.summary(); }},
      {"compile()", [&] { unbuilt.compile(LossKind::BinaryCrossentropy, SGD<double>()); }},
      {"set_weights()", [&] { unbuilt.set_weights({}); }},
      {"input_shape()", [&] { (void)unbuilt.input_shape(); }},
      {"output_shape()", [&] { (void)unbuilt.output_shape(); }},
  };
  for (const auto& c : calls) {
    INFO(c.first);
    CHECK_THROWS_AS(c.second(), StateError);
    CHECK_THAT(error_of(c.second),
               Catch::Contains(std::string("sequential: ") + c.first + " needs a built model; call build"));
  }
  const std::string never = (fs::temp_directory_path() / ("never_written_" + std::to_string(::getpid()))).string();
  CHECK_THROWS_WITH(save_model(unbuilt, never), Catch::Contains("sequential: saving needs a built model; call build"));
  CHECK_FALSE(fs::exists(never));

  // Built but not compiled: inference, summary and saving work (as in Keras); training needs compile().
  Sequential<double> built;
  built.add(Embedding<double>(5, 2));
  built.add(LSTM<double>(2));
  built.add(Dense<double>(1, Activation::Sigmoid));
  built.build(Shape::ids(3));
  for (const auto& c : std::vector<std::pair<const char*, std::function<void()>>>{
           {"fit()", [&] { built.fit(x, y, quiet(1, 1)); }},
           {"evaluate()", [&] { built.evaluate(x, y); }},
           {"train_on_batch()", [&] { built.train_on_batch(x, y); }},
           {"compute_gradients()", [&] { built.compute_gradients(x, y); }},
           {"optimizer()", [&] { built.optimizer(); }},
           {"loss()", [&] { (void)built.loss(); }}}) {
    INFO(c.first);
    CHECK_THAT(error_of(c.second),
               Catch::Contains(std::string(c.first) + " needs a compiled model; call compile(loss, optimizer) first"));
  }
  CHECK(built.predict(x).shape() == std::vector<Index>{2, 1});
  CHECK_NOTHROW(built.summary());
  CHECK_NOTHROW(serialize_model(built));
  CHECK_THROWS_WITH(built.build(Shape::ids(3)), Catch::Contains("already built"));
  CHECK_THROWS_WITH(built.add(Dense<double>(1)), Catch::Contains("cannot add a layer after build()"));
}

TEST_CASE("Reliability: layers whose shapes do not fit are named, and Dense after Embedding works per step as in Keras",
          "[reliability][errors]") {
  // A recurrent layer after a vector output: the message names the layer, its position and its input.
  Sequential<float> two;
  two.add(Embedding<float>(10, 4));
  two.add(LSTM<float>(3));  // return_sequences = false: (None, 3)
  two.add(LSTM<float>(3));
  const std::string msg = error_of([&] { two.build(Shape::ids(6)); });
  CHECK_THAT(msg, Catch::Contains("layer 2 (LSTM 'lstm_1') does not fit its input (None, 3)") &&
                      Catch::Contains("needs a sequence input"));
  CHECK_FALSE(two.built());
  Sequential<float> gru;
  gru.add(GRU<float>(3));
  CHECK_THROWS_WITH(gru.build(Shape::ids(6)),
                    Catch::Contains("layer 0 (GRU 'gru')") && Catch::Contains("put an Embedding first"));
  Sequential<float> emb;
  emb.add(Embedding<float>(10, 4));
  emb.add(Embedding<float>(10, 4));
  CHECK_THROWS_WITH(emb.build(Shape::ids(6)), Catch::Contains("layer 1 (Embedding 'embedding_1')") &&
                                                  Catch::Contains("expects a sequence of integer ids"));
  Sequential<float> drop;
  drop.add(Dropout<float>(0.5));
  CHECK_THROWS_WITH(drop.build(Shape::ids(6)),
                    Catch::Contains("Dropout 'dropout'") && Catch::Contains("expects real values"));
  Sequential<float> zero;
  zero.add(Dense<float>(2));
  CHECK_THROWS_WITH(zero.build(Shape::vector(0)), Catch::Contains("cannot be built for input shape (None, 0)"));
  CHECK_THROWS_AS(zero.build(Shape::sequence(-1, 2)), ShapeError);

  // Keras' Dense works on the last axis: after Embedding it maps every step, output (None, 6, 1). The
  // labels must then have a step axis too; one label per review is refused with the shape it needs.
  Sequential<float> per_step;
  per_step.add(Embedding<float>(10, 4));
  per_step.add(Dense<float>(1, Activation::Sigmoid));
  per_step.build(Shape::ids(6));
  CHECK(to_string(per_step.output_shape()) == "(None, 6, 1)");
  per_step.compile(LossKind::BinaryCrossentropy, SGD<float>());
  Tensor<float> x({2, 6}, 3.0f), y({2}, 1.0f);
  CHECK_THROWS_WITH(per_step.fit(x, y), Catch::Contains("y has shape (2), the model's output needs (2, 6, 1)"));
  CHECK_NOTHROW(per_step.train_on_batch(x, Tensor<float>({2, 6, 1}, 1.0f)));
}

TEST_CASE("Reliability: empty texts, invalid UTF-8 and NUL bytes encode to valid ids without errors",
          "[reliability][text]") {
  using text::Vocabulary;
  const std::vector<std::string> texts{"good film", std::string("good\0bad\xFF\xC3 film", 15), "",
                                       "\x80\x80\xED\xA0\x80"};
  const Vocabulary v = Vocabulary::build(texts);
  // Only whole, valid UTF-8 words are stored: "good", "film", "bad".
  CHECK(v.words() == std::vector<std::string>{"film", "good", "bad"});
  // As in Keras: an empty text, or one without a word, is the start id alone and pads to zeros.
  CHECK(v.encode("") == std::vector<std::int32_t>{1});
  CHECK(v.encode(texts[3]) == std::vector<std::int32_t>{1});
  CHECK(v.encode(texts[1]) == std::vector<std::int32_t>{1, 4, 5, 3});
  const auto x = text::pad_sequences(v.encode_all(texts), text::PadOptions{4}).cast<double>();
  Sequential<double> m;
  m.add(Embedding<double>(v.size(), 2));
  m.add(GRU<double>(2));
  m.add(Dense<double>(1, Activation::Sigmoid));
  m.build(Shape::ids(4));
  const Tensor<double> p = m.predict(x);
  for (Index i = 0; i < p.size(); ++i) CHECK(std::isfinite(p.data()[i]));
  CHECK(Vocabulary::deserialize(v.serialize()).words() == v.words());
}

TEST_CASE("Reliability: a data folder that is missing, empty or a file is an IoError naming it",
          "[reliability][imdb]") {
  TempDir d("data");
  const std::string empty = (d.path / "empty").string();
  fs::create_directories(empty);
  CHECK_THROWS_WITH(
      text::read_imdb(empty, text::ImdbSubset::Train),
      Catch::Contains("'" + (fs::path(empty) / "train" / "neg").string() + "' does not exist or is not a folder"));
  d.write("file/x", "not a folder");
  CHECK_THROWS_AS(text::read_imdb((d.path / "file" / "x").string(), text::ImdbSubset::Test), IoError);
  d.write("only_neg/train/neg/1_2.txt", "bad");
  CHECK_THROWS_WITH(text::read_imdb((d.path / "only_neg").string(), text::ImdbSubset::Train), Catch::Contains("pos"));
}

TEST_CASE("Reliability: a review entry that cannot be read is an IoError naming it", "[reliability][imdb]") {
  // Tests run as root, so permissions cannot make a file unreadable; these entries really fail to read.
  const auto fake = [](const TempDir& d) {
    d.write("train/neg/1_2.txt", "bad");
    d.write("train/pos/2_9.txt", "good");
    d.write("train/pos/notes/readme", "a sub-folder with another name is ignored");
    return d.path.string();
  };
  {
    TempDir d("dir_review");
    fs::create_directories(d.path / "train/neg/3_1.txt");  // a folder named like a review
    const std::string msg = error_of([&] { text::read_imdb(fake(d), text::ImdbSubset::Train); });
    CHECK_THAT(msg, Catch::Contains("3_1.txt") && Catch::Contains("is not a regular file"));
  }
  {
    TempDir d("dangling");
    fake(d);
    fs::create_symlink(d.path / "nowhere.txt", d.path / "train/pos/4_8.txt");
    const std::string msg = error_of([&] { text::read_imdb(d.path.string(), text::ImdbSubset::Train); });
    CHECK_THAT(msg, Catch::Contains("4_8.txt") && Catch::Contains("is not a regular file"));
    fs::remove(d.path / "train/pos/4_8.txt");
    CHECK(text::read_imdb(d.path.string(), text::ImdbSubset::Train).size() == 2);
  }
  if (fs::exists("/proc/self/mem")) {
    // A regular file whose size cannot be found by seeking (procfs): opening works, reading does not.
    TempDir d("proc");
    fake(d);
    fs::create_symlink("/proc/self/mem", d.path / "train/pos/5_7.txt");
    const std::string msg = error_of([&] { text::read_imdb(d.path.string(), text::ImdbSubset::Train); });
    CHECK_THAT(msg, Catch::Contains("cannot read") && Catch::Contains("5_7.txt"));
  }
}

TEST_CASE("Reliability: nonsensical settings are refused before anything runs", "[reliability][errors]") {
  Sequential<double> m = id_model();
  for (double v : {-1.0, kNaN, kInf}) {
    INFO(v);
    CHECK_THROWS_WITH(m.compile(LossKind::BinaryCrossentropy, SGD<double>(), {}, CompileOptions{v, 0.0}),
                      Catch::Contains("global_clipnorm must be finite and >= 0"));
    CHECK_THROWS_WITH(m.compile(LossKind::BinaryCrossentropy, SGD<double>(), {}, CompileOptions{0.0, v}),
                      Catch::Contains("clipvalue must be finite and >= 0"));
  }
  CHECK(m.optimizer().name() == "SGD");  // the refused compile() calls left the earlier one in place
  CHECK_THROWS_WITH(m.set_threads(0), Catch::Contains("threads must be >= 1, got 0"));
  CHECK_THROWS_AS(m.set_threads(-4), InvalidArgument);
  CHECK(m.threads() == 1);
  GRUOptions nan_dropout;
  nan_dropout.recurrent_dropout = kNaN;
  CHECK_THROWS_WITH(GRU<double>(2, nan_dropout), Catch::Contains("GRU: recurrent_dropout must be in [0, 1)"));
  CHECK_THROWS_WITH(SimpleRNN<double>(-3), Catch::Contains("SimpleRNN: units must be positive, got -3"));
  CHECK_THROWS_WITH(Dropout<double>(kNaN), Catch::Contains("Dropout: rate must be in [0, 1), got nan"));
  CHECK_THROWS_WITH(EarlyStopping<double>(EarlyStoppingOptions{"val_loss", 0, kNaN}),
                    Catch::Contains("min_delta must be >= 0"));
  text::ImdbOptions io;
  io.max_per_label = -1;
  CHECK_THROWS_AS(text::read_imdb("/nowhere", text::ImdbSubset::Train, io), InvalidArgument);
  Adam<double> adam;
  CHECK_THROWS_WITH(adam.set_learning_rate(-1e-3), Catch::Contains("learning_rate must be finite and > 0, got -0.001"));
}

TEST_CASE("Reliability: a diverging fit stops, keeps finite weights, and leaves the best checkpoint's bytes intact",
          "[reliability][nan][checkpoint]") {
  TempDir d("diverge");
  const std::string path = (d.path / "best.seqnet").string();
  Rng r(5);
  Tensor<float> x({64, 4}), y({64});
  for (Index i = 0; i < 64; ++i) {
    for (Index j = 0; j < 4; ++j) x(i, j) = static_cast<float>(r.uniform(-1.0, 1.0));
    y(i) = x(i, 0) - 0.5f * x(i, 1);
  }
  const auto make = [] {
    Sequential<float> m(SequentialOptions{11});
    m.add(Dense<float>(1));
    m.build(Shape::vector(4));
    return m;
  };
  Sequential<float> m = make();
  m.compile(LossKind::MeanSquaredError, SGD<float>(SGDOptions{0.1}));

  // Three sound epochs, then the learning rate jumps to 1e4 (a schedule gone wrong): gradient descent on
  // the quadratic grows the error about a thousandfold per step until float overflows.
  struct Scheduler final : Callback<float> {
    std::vector<std::vector<float>> weights;  // after each finished epoch
    bool on_epoch_end(int epoch, const EpochLog&, Sequential<float>& model) override {
      weights.push_back(model.get_weights());
      if (epoch == 2) model.optimizer().set_learning_rate(1e4);
      return false;
    }
  } scheduler;
  ModelCheckpointOptions ck;
  ck.path = path;
  ck.monitor = "val_loss";
  ck.extras.set("note", "kept");
  ModelCheckpoint<float> checkpoint(ck);
  FitOptions<float> o;
  o.epochs = 30;
  o.batch_size = 8;
  o.validation_split = 0.25;
  o.verbose = Verbosity::Silent;
  std::ostringstream out;
  o.out = &out;
  const History h = m.fit(x, y, o, {&checkpoint, &scheduler});

  // Training stopped on its own, with a message, in the epoch after the last one that finished.
  CHECK((h.reason == StopReason::NonFiniteLoss || h.reason == StopReason::NonFiniteWeights));
  REQUIRE(h.size() >= 3);
  CHECK(h.size() < 30);
  CHECK(h.stopped_epoch == h.size());
  CHECK(h.stop_reason.rfind("Epoch " + std::to_string(h.size() + 1) + ", batch ", 0) == 0);
  CHECK_THAT(h.stop_reason, Catch::Contains("terminating training"));
  CHECK_THAT(out.str(), Catch::Contains(h.stop_reason));
  const auto val_loss = h.series("val_loss");
  CHECK(val_loss[2] < val_loss[0]);            // the first epochs learned
  CHECK(val_loss.back() > 1e3 * val_loss[2]);  // the later ones did not
  // The model holds finite weights: those from before the step that failed.
  for (Index i = 0; i < m.num_params(); ++i) CHECK(std::isfinite(m.values()[i]));

  // The checkpoint is the best sound epoch's model, byte for byte; the diverging epochs never replaced it.
  REQUIRE(checkpoint.best_epoch() >= 0);
  CHECK(checkpoint.best_epoch() <= 2);
  CHECK(checkpoint.last_saved_epoch() == checkpoint.best_epoch());
  const std::vector<float>& best_weights = scheduler.weights[static_cast<std::size_t>(checkpoint.best_epoch())];
  Sequential<float> best = make();
  best.set_weights(best_weights);
  CHECK(file_bytes(path) == serialize_model(best, ck.extras));
  ModelExtras extras;
  Sequential<float> loaded = load_model<float>(path, &extras);
  CHECK(loaded.get_weights() == best_weights);
  CHECK(extras.get("note") == "kept");
  // No temporary file is left next to it.
  int files = 0;
  for (const auto& e : fs::directory_iterator(d.path)) files += e.is_regular_file() ? 1 : 0;
  CHECK(files == 1);
}

}  // namespace test_reliability
