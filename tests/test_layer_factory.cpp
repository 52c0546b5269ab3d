// make_layer (io/layer_factory.hpp): every layer type comes back from type_name() + config() with the same
// settings and the same parameters after build.

#include <catch2/catch.hpp>
#include <seqnet/io/layer_factory.hpp>

#include <memory>
#include <vector>

namespace test_layer_factory {

using namespace seqnet;

namespace {

template <typename T>
void check_recreated(const Layer<T>& original, const Shape& input) {
  INFO(original.type_name() << " " << to_string(input));
  auto copy = make_layer<T>(original.type_name(), original.config());
  REQUIRE(copy);
  CHECK(copy->type_name() == original.type_name());
  CHECK(copy->config() == original.config());
  CHECK_FALSE(copy->built());
  auto a = original.clone_unbuilt();
  const Shape out_a = a->build(input);
  const Shape out_b = copy->build(input);
  CHECK(out_a == out_b);
  CHECK(copy->num_params() == a->num_params());
  REQUIRE(copy->param_specs().size() == a->param_specs().size());
  for (std::size_t k = 0; k < a->param_specs().size(); ++k) {
    CHECK(copy->param_specs()[k].name == a->param_specs()[k].name);
    CHECK(copy->param_specs()[k].rows == a->param_specs()[k].rows);
    CHECK(copy->param_specs()[k].cols == a->param_specs()[k].cols);
  }
}

}  // namespace

TEMPLATE_TEST_CASE("Layer factory: every layer type round-trips through its config", "[layer_factory]", float, double) {
  using T = TestType;
  const Shape seq = Shape::sequence(5, 3);
  check_recreated<T>(Dense<T>(4, Activation::Softmax), Shape::vector(6));
  check_recreated<T>(Dense<T>(2, DenseOptions{Activation::Relu, false}), seq);
  check_recreated<T>(Embedding<T>(50, 8), Shape::ids(7));
  check_recreated<T>(Embedding<T>(50, 8, EmbeddingOptions{true}), Shape::ids(7));
  check_recreated<T>(Dropout<T>(0.25), seq);
  check_recreated<T>(SimpleRNN<T>(4), seq);
  check_recreated<T>(SimpleRNN<T>(4, SimpleRNNOptions{true, true, 0.2, 0.1, Activation::Relu}), Shape::one_hot(5, 9));
  check_recreated<T>(LSTM<T>(6), seq);
  LSTMOptions lo;
  lo.return_sequences = true;
  lo.unit_forget_bias = false;
  lo.recurrent_activation = Activation::Tanh;
  lo.dropout = 0.5;
  check_recreated<T>(LSTM<T>(3, lo), seq);
  check_recreated<T>(GRU<T>(5), seq);
  GRUOptions go;
  go.reset_after = false;
  go.go_backwards = true;
  check_recreated<T>(GRU<T>(5, go), seq);
  for (MergeMode mode : {MergeMode::Concat, MergeMode::Sum, MergeMode::Average, MergeMode::Multiply}) {
    check_recreated<T>(Bidirectional<T>(LSTM<T>(3, lo), mode), seq);
    check_recreated<T>(Bidirectional<T>(GRU<T>(2, go), mode), seq);
    check_recreated<T>(Bidirectional<T>(SimpleRNN<T>(4), mode), seq);
  }
}

TEST_CASE("Layer factory: the settings really come from the config", "[layer_factory]") {
  Config c;
  c.set("units", 7).set("activation", "tanh").set("use_bias", false);
  auto d = make_layer<float>("Dense", c);
  d->build(Shape::vector(3));
  CHECK(d->num_params() == 21);  // 3 x 7 kernel, no bias
  CHECK(dynamic_cast<Dense<float>*>(d.get())->activation() == Activation::Tanh);
}

TEST_CASE("Layer factory: unknown types and bad configs are refused with a clear message", "[layer_factory][errors]") {
  CHECK_THROWS_AS(make_layer<float>("Conv1D", Config{}), FormatError);
  CHECK_THROWS_WITH(make_layer<float>("Conv1D", Config{}),
                    Catch::Contains("unknown layer type 'Conv1D'") && Catch::Contains("LSTM"));
  CHECK_THROWS_WITH(make_layer<float>("dense", Config{}),
                    Catch::Contains("unknown layer type 'dense'"));  // case matters
  CHECK_THROWS_WITH(make_layer<float>("Dense", Config{}), Catch::Contains("config: missing key"));
  Config bi = Bidirectional<float>(LSTM<float>(2)).config();
  bi.set("layer.type", "Dense");
  CHECK_THROWS_WITH(make_layer<float>("Bidirectional", bi), Catch::Contains("cannot wrap a layer of type 'Dense'"));
  bi.set("layer.type", "Bidirectional");  // nesting is refused, so untrusted configs cannot recurse deeply
  CHECK_THROWS_AS(make_layer<float>("Bidirectional", bi), FormatError);
  Config no_inner;
  no_inner.set("merge_mode", "concat");
  CHECK_THROWS_WITH(make_layer<float>("Bidirectional", no_inner), Catch::Contains("missing key 'layer.type'"));
}

}  // namespace test_layer_factory
