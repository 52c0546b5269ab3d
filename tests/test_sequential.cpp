#include <catch2/catch.hpp>
#include <seqnet/layers/bidirectional.hpp>
#include <seqnet/layers/embedding.hpp>
#include <seqnet/layers/gru.hpp>
#include <seqnet/layers/lstm.hpp>
#include <seqnet/layers/simple_rnn.hpp>
#include <seqnet/model/sequential.hpp>
#include <seqnet/optim/sgd.hpp>

#include <memory>
#include <string>

namespace test_sequential {

using namespace seqnet;

namespace {
std::string pad(const std::string& s, std::size_t n) { return s + std::string(n - s.size(), ' '); }
// A summary row as Keras lays it out: columns end at 29, 55 and 65 characters.
std::string row(const std::string& a, const std::string& b, const std::string& c) {
  return pad(a, 29) + pad(b, 26) + c;
}
}  // namespace

TEST_CASE("Sequential: layers get Keras' automatic names per type", "[sequential]") {
  Sequential<float> m;
  Dense<float>& a = m.add(Dense<float>(4));
  m.add(Dense<float>(4));
  auto named = std::make_unique<Dense<float>>(2);
  named->set_name("head");
  Dense<float>& h = m.add(std::move(named));
  m.add(std::unique_ptr<Layer<float>>(new Dense<float>(1)));
  REQUIRE(m.num_layers() == 4);
  CHECK(a.name() == "dense");
  CHECK(m.layer(1).name() == "dense_1");
  CHECK(h.name() == "head");
  CHECK(m.layer(3).name() == "dense_2");
  CHECK(&m.layer("head") == &h);
  CHECK(h.units() == 2);
  Dense<float> dup(3);
  dup.set_name("head");
  CHECK_THROWS_WITH(m.add(dup), Catch::Contains("'head' is already in the model"));
  CHECK_THROWS_AS(m.layer("nope"), InvalidArgument);
  CHECK_THROWS_AS(m.add(std::unique_ptr<Layer<float>>()), InvalidArgument);
}

TEST_CASE("Sequential: build binds every parameter to one flat array", "[sequential]") {
  Sequential<double> m(SequentialOptions{42});
  Dense<double>& d1 = m.add(Dense<double>(3, Activation::Tanh));
  Dense<double>& d2 = m.add(Dense<double>(2));
  m.build(Shape::vector(4));
  CHECK(m.num_params() == 4 * 3 + 3 + 3 * 2 + 2);
  CHECK(m.output_shape() == Shape::vector(2));
  CHECK(m.input_shape() == Shape::vector(4));
  // Layer order, then declaration order.
  CHECK(d1.param("kernel").data() == m.values());
  CHECK(d1.param("bias").data() == m.values() + 12);
  CHECK(d2.param("kernel").data() == m.values() + 15);
  CHECK(d2.grad("bias").data() == m.gradients() + 21);
  // Kernels drawn (glorot), biases zero.
  CHECK(d1.param("kernel").cwiseAbs().minCoeff() > 0.0);
  CHECK(d1.param("bias").isZero());
  CHECK_FALSE(d1.input_grad());
  CHECK(d2.input_grad());
  // Writing through the model is seen by the layers.
  std::vector<double> w(static_cast<std::size_t>(m.num_params()), 0.5);
  m.set_weights(w);
  CHECK(d2.param("bias")(0, 1) == 0.5);
  CHECK_THROWS_AS(m.set_weights(std::vector<double>(3)), ShapeError);
}

TEST_CASE("Sequential: layers that do not fit are reported by name", "[sequential][errors]") {
  Sequential<float> m;
  CHECK_THROWS_AS(m.build(Shape::vector(3)), StateError);
  CHECK_THROWS_AS(m.summary(), StateError);
  CHECK_THROWS_AS(m.input_shape(), StateError);
  m.add(Dense<float>(4));
  CHECK_THROWS_WITH(m.build(Shape::ids(10)),
                    Catch::Contains("layer 0 (Dense 'dense') does not fit its input (None, 10, 1)") &&
                        Catch::Contains("cannot take integer ids"));
  Sequential<float> ok;
  ok.add(Dense<float>(4));
  ok.build(Shape::vector(2));
  CHECK_THROWS_AS(ok.build(Shape::vector(2)), StateError);
  CHECK_THROWS_WITH(ok.add(Dense<float>(1)), Catch::Contains("after build"));
  CHECK_THROWS_AS(Sequential<float>(SequentialOptions{0, 0}), InvalidArgument);
}

TEST_CASE("Sequential: summary prints Keras' table", "[sequential][summary]") {
  Sequential<float> m;
  m.add(Dense<float>(8, Activation::Relu));
  m.add(Dense<float>(1, Activation::Sigmoid));
  m.build(Shape::vector(4));
  const std::string rule(65, '_'), dbl(65, '=');
  const std::string want = "Model: \"sequential\"\n" + rule + "\n" + row("Layer (type)", "Output Shape", "Param #") +
                           "\n" + dbl + "\n" + row("dense (Dense)", "(None, 8)", "40") + "\n" + rule + "\n" +
                           row("dense_1 (Dense)", "(None, 1)", "9") + "\n" + dbl + "\n" +
                           "Total params: 49\nTrainable params: 49\nNon-trainable params: 0\n" + rule + "\n";
  CHECK(m.summary() == want);

  Sequential<float> big(SequentialOptions{0, 1, "wide"});
  big.add(Dense<float>(1000));
  big.add(Dense<float>(1000));
  big.build(Shape::sequence(5, 100));
  const std::string s = big.summary();
  CHECK(s.rfind("Model: \"wide\"\n", 0) == 0);
  CHECK(s.find(row("dense (Dense)", "(None, 5, 1000)", "101000") + "\n") != std::string::npos);
  CHECK(s.find("Total params: 1,102,000\nTrainable params: 1,102,000\nNon-trainable params: 0\n") != std::string::npos);
}

TEST_CASE("Sequential: thousands separators", "[sequential][summary]") {
  CHECK(detail::group_thousands(0) == "0");
  CHECK(detail::group_thousands(999) == "999");
  CHECK(detail::group_thousands(4081) == "4,081");
  CHECK(detail::group_thousands(1234567) == "1,234,567");
}

TEST_CASE("Sequential: the seed fixes the initial weights", "[sequential][determinism]") {
  auto make = [](std::uint64_t seed) {
    Sequential<double> m(SequentialOptions{seed});
    m.add(Dense<double>(5, Activation::Tanh));
    m.add(Dense<double>(1));
    m.build(Shape::vector(3));
    return m.get_weights();
  };
  CHECK(make(7) == make(7));
  CHECK(make(7) != make(8));
}

TEST_CASE("Sequential: a moved model keeps working views", "[sequential]") {
  Sequential<double> a(SequentialOptions{3, 2});
  a.add(Dense<double>(2));
  a.build(Shape::vector(2));
  const double* values = a.values();
  Sequential<double> b(std::move(a));
  CHECK(b.values() == values);
  CHECK(b.layer(0).param(0).data() == values);
  Tensor<double> x({3, 2}, std::vector<double>{1, 2, 3, 4, 5, 6});
  const Tensor<double> p1 = b.predict(x);
  Sequential<double> c;
  c = std::move(b);
  const Tensor<double> p2 = c.predict(x);
  CHECK(p1.values() == p2.values());
  CHECK(p1.values()[0] == Approx(c.values()[0] * 1 + c.values()[1] * 2 + c.values()[4]));
}

TEST_CASE("Sequential: the chapter's models print Keras' parameter counts", "[sequential][summary][chapter]") {
  const std::string rule(65, '_'), dbl(65, '=');
  auto body = [&](const std::vector<std::vector<std::string>>& rows) {
    std::string s;
    for (std::size_t i = 0; i < rows.size(); ++i)
      s += row(rows[i][0], rows[i][1], rows[i][2]) + "\n" + (i + 1 == rows.size() ? dbl : rule) + "\n";
    return s;
  };
  auto totals = [&](const std::string& n) {
    return "Total params: " + n + "\nTrainable params: " + n + "\nNon-trainable params: 0\n" + rule + "\n";
  };
  {  // M1: one-hot(500) -> SimpleRNN(8) -> Dense(1)
    Sequential<float> m;
    m.add(SimpleRNN<float>(8));
    m.add(Dense<float>(1, Activation::Sigmoid));
    m.build(Shape::one_hot(100, 500));
    CHECK(
        m.summary().find(body({{"simple_rnn (SimpleRNN)", "(None, 8)", "4072"}, {"dense (Dense)", "(None, 1)", "9"}}) +
                         totals("4,081")) != std::string::npos);
  }
  {  // M2: Embedding(500, 16) -> SimpleRNN(8) -> Dense(1)
    Sequential<float> m;
    m.add(Embedding<float>(500, 16));
    m.add(SimpleRNN<float>(8));
    m.add(Dense<float>(1, Activation::Sigmoid));
    m.build(Shape::ids(100));
    CHECK(m.summary().find(body({{"embedding (Embedding)", "(None, 100, 16)", "8000"},
                                 {"simple_rnn (SimpleRNN)", "(None, 8)", "200"},
                                 {"dense (Dense)", "(None, 1)", "9"}}) +
                           totals("8,209")) != std::string::npos);
  }
  {  // M3 / M4: LSTM(8), with dropout the same count
    Sequential<float> m;
    m.add(Embedding<float>(500, 16));
    m.add(LSTM<float>(8, LSTMOptions{false, false, 0.3}));
    m.add(Dense<float>(1, Activation::Sigmoid));
    m.build(Shape::ids(100));
    CHECK(m.summary().find(row("lstm (LSTM)", "(None, 8)", "800")) != std::string::npos);
    CHECK(m.summary().find(totals("8,809")) != std::string::npos);
  }
  {  // M5: two stacked LSTMs
    Sequential<float> m;
    m.add(Embedding<float>(500, 16));
    m.add(LSTM<float>(8, LSTMOptions{true, false, 0.3}));
    m.add(LSTM<float>(8, LSTMOptions{false, false, 0.3}));
    m.add(Dense<float>(1, Activation::Sigmoid));
    m.build(Shape::ids(100));
    CHECK(m.summary().find(body({{"embedding (Embedding)", "(None, 100, 16)", "8000"},
                                 {"lstm (LSTM)", "(None, 100, 8)", "800"},
                                 {"lstm_1 (LSTM)", "(None, 8)", "544"},
                                 {"dense (Dense)", "(None, 1)", "9"}}) +
                           totals("9,353")) != std::string::npos);
  }
  {  // M6: GRU (reset_after: two bias vectors)
    Sequential<float> m;
    m.add(Embedding<float>(500, 16));
    m.add(GRU<float>(8));
    m.add(Dense<float>(1, Activation::Sigmoid));
    m.build(Shape::ids(100));
    CHECK(m.summary().find(row("gru (GRU)", "(None, 8)", "624")) != std::string::npos);
    CHECK(m.summary().find(totals("8,633")) != std::string::npos);
  }
  {  // Keras cuts "bidirectional (Bidirectional)" (29 characters) to 28 plus a space.
    Sequential<float> m;
    m.add(Embedding<float>(500, 16));
    m.add(Bidirectional<float>(LSTM<float>(8)));
    m.add(Dense<float>(1, Activation::Sigmoid));
    m.build(Shape::ids(100));
    CHECK(m.summary().find(row("bidirectional (Bidirectional", "(None, 16)", "1600")) != std::string::npos);
    CHECK(m.summary().find(totals("9,617")) != std::string::npos);
  }
}

}  // namespace test_sequential
