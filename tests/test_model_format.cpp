// The model container and its checked decoding, on models given as layers (io/model_format.hpp).

#include <catch2/catch.hpp>
#include <seqnet/io/model_format.hpp>
#include <seqnet/layers/dense.hpp>

#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace test_model_format {

using namespace seqnet;
namespace d = seqnet::detail;

namespace {

template <typename T>
struct SmallModel {
  Shape input = Shape::sequence(3, 4);
  std::vector<std::unique_ptr<Layer<T>>> layers;

  explicit SmallModel(std::uint64_t seed = 5) {
    layers.push_back(std::make_unique<Dense<T>>(6, Activation::Tanh));
    layers.push_back(std::make_unique<Dense<T>>(3, DenseOptions{Activation::Softmax, true}));
    layers.push_back(std::make_unique<Dense<T>>(2, DenseOptions{Activation::Relu, false}));
    layers[0]->set_name("dense");
    layers[1]->set_name("dense_1");
    layers[2]->set_name("output");
    Rng rng(seed);
    Shape s = input;
    for (auto& l : layers) {
      s = l->build(s);
      l->initialize(rng);
    }
  }
  std::vector<const Layer<T>*> view() const {
    std::vector<const Layer<T>*> out;
    for (const auto& l : layers) out.push_back(l.get());
    return out;
  }
  std::string bytes(const ModelExtras& extras = {}) const { return d::encode_model<T>(input, view(), extras); }
};

template <typename T>
SeqBatch<T> batch_for(const Shape& s, Index b, std::uint64_t seed) {
  Rng rng(seed);
  SeqBatch<T> x;
  x.batch = b;
  x.shape = s;
  x.values.resize(s.rows_per_sample() * b, s.columns());
  for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = static_cast<T>(rng.uniform(-1, 1));
  return x;
}

template <typename T>
Matrix<T> run(std::vector<std::unique_ptr<Layer<T>>>& layers, const SeqBatch<T>& x) {
  const SeqBatch<T>* cur = &x;
  for (auto& l : layers) cur = &l->forward(*cur, Mode::Eval);
  return cur->values;
}

template <typename T>
d::DecodedModel<T> decode(const std::string& bytes, ModelExtras* extras = nullptr) {
  return d::decode_model<T>(bytes, extras, "model file");
}

// Rewrites the CRC trailer so a crafted change reaches the structural checks behind the checksum.
void fix_crc(std::string& f) {
  const std::uint32_t c = d::crc32c(f.data(), f.size() - 4);
  for (int i = 0; i < 4; ++i) f[f.size() - 4 + i] = static_cast<char>((c >> (8 * i)) & 0xFF);
}

void put_u32(std::string& f, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) f[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_u64(std::string& f, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) f[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

// A file from hand-made architecture and weights payloads (float32).
std::string craft(const d::ArchitectureRecord& arch, const std::string& weights) {
  return d::encode_container(d::kScalarFloat32,
                             {d::Section{d::kSectionArchitecture, "architecture", d::encode_architecture(arch)},
                              d::Section{d::kSectionWeights, "weights", weights}});
}

d::ArchitectureRecord dense_arch(const std::string& units, Shape input = Shape::vector(3)) {
  d::ArchitectureRecord a;
  a.input = input;
  Config c;
  c.set("units", units).set("activation", "linear").set("use_bias", true);
  a.layers.push_back(d::LayerRecord{"dense", "Dense", c});
  return a;
}

// Weights payload for one layer with the given tensors (float32 values 0.5).
std::string dense_weights(const std::vector<std::pair<std::string, std::pair<std::uint64_t, std::uint64_t>>>& tensors) {
  d::ByteWriter w;
  w.u32(1);
  w.u32(static_cast<std::uint32_t>(tensors.size()));
  for (const auto& t : tensors) {
    w.str(t.first);
    w.u64(t.second.first);
    w.u64(t.second.second);
    for (std::uint64_t i = 0; i < t.second.first * t.second.second; ++i) w.f32(0.5f);
  }
  return w.take();
}

}  // namespace

TEMPLATE_TEST_CASE("Model format: round trip gives the same layers and bit-identical outputs", "[model_format]", float,
                   double) {
  SmallModel<TestType> m;
  auto decoded = decode<TestType>(m.bytes());
  REQUIRE(decoded.layers.size() == 3);
  CHECK(decoded.input == m.input);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(decoded.layers[i]->name() == m.layers[i]->name());
    CHECK(decoded.layers[i]->type_name() == m.layers[i]->type_name());
    CHECK(decoded.layers[i]->config() == m.layers[i]->config());
    REQUIRE(decoded.layers[i]->num_params() == m.layers[i]->num_params());
    for (std::size_t k = 0; k < m.layers[i]->param_specs().size(); ++k)
      CHECK(std::memcmp(decoded.layers[i]->param(k).data(), m.layers[i]->param(k).data(),
                        sizeof(TestType) * static_cast<std::size_t>(m.layers[i]->param(k).size())) == 0);
  }
  auto x = batch_for<TestType>(m.input, 5, 11);
  const Matrix<TestType> a = run(m.layers, x), b = run(decoded.layers, x);
  CHECK(std::memcmp(a.data(), b.data(), sizeof(TestType) * static_cast<std::size_t>(a.size())) == 0);
}

TEST_CASE("Model format: the same model always gives the same bytes", "[model_format]") {
  CHECK(SmallModel<float>(3).bytes() == SmallModel<float>(3).bytes());
  CHECK(SmallModel<float>(3).bytes() != SmallModel<float>(4).bytes());
}

TEST_CASE("Model format: header fields are where the format document says", "[model_format]") {
  const std::string f = SmallModel<float>().bytes();
  CHECK(f.substr(0, 8) == std::string("\x89SEQNET\n", 8));
  d::ByteReader r(f, "test");
  r.bytes(8, "magic");
  CHECK(r.u32("version") == 1);
  CHECK(r.u32("flags") == 0);
  CHECK(r.u32("scalar") == 1);
  CHECK(r.u32("sections") == 2);
  CHECK(r.u64("length") == f.size());
  CHECK(r.u32("kind") == 1);
  CHECK(r.str("name") == "architecture");
  const std::string g = SmallModel<double>().bytes();
  CHECK(g[16] == 2);  // float64 tag
}

TEST_CASE("Model format: a float32 file loads as double exactly, a float64 file is refused as float",
          "[model_format]") {
  SmallModel<float> m;
  const auto wide = decode<double>(m.bytes());
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t k = 0; k < m.layers[i]->param_specs().size(); ++k)
      CHECK(wide.layers[i]->param(k).template cast<float>() == m.layers[i]->param(k));
  SmallModel<double> md;
  CHECK_THROWS_WITH(decode<float>(md.bytes()), Catch::Contains("float64") && Catch::Contains("as double"));
}

TEST_CASE("Model format: extra sections round-trip, reserved names are refused", "[model_format]") {
  SmallModel<float> m;
  ModelExtras extras;
  extras.set("vocabulary", std::string("the\0and\x01", 8));
  extras.set("training", "epochs=3");
  ModelExtras back;
  back.set("stale", "x");
  decode<float>(m.bytes(extras), &back);
  CHECK(back.sections == extras.sections);
  CHECK(back.get("vocabulary").size() == 8);
  CHECK_THROWS_AS(back.get("missing"), InvalidArgument);
  ModelExtras bad;
  bad.set("weights", "x");
  CHECK_THROWS_AS(m.bytes(bad), InvalidArgument);
  ModelExtras empty_name;
  empty_name.set("", "x");
  CHECK_THROWS_AS(m.bytes(empty_name), InvalidArgument);
}

TEST_CASE("Model format: every truncation is refused as truncated", "[model_format][errors]") {
  ModelExtras extras;
  extras.set("vocabulary", "abc");
  const std::string f = SmallModel<float>().bytes(extras);
  for (std::size_t n = 0; n < f.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    CHECK_THROWS_AS(decode<float>(f.substr(0, n)), FormatError);
    CHECK_THROWS_WITH(decode<float>(f.substr(0, n)), Catch::Contains("truncated"));
  }
}

TEST_CASE("Model format: every flipped byte is refused", "[model_format][errors]") {
  const std::string f = SmallModel<float>().bytes();
  for (std::size_t i = 0; i < f.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xFF}) {
      std::string g = f;
      g[i] = static_cast<char>(g[i] ^ mask);
      INFO("byte " << i << " xor " << int(mask));
      CHECK_THROWS_AS(decode<float>(g), FormatError);
    }
  }
}

TEST_CASE("Model format: wrong magic, newer or zero version, unknown flags and scalar type", "[model_format][errors]") {
  const std::string f = SmallModel<float>().bytes();
  CHECK_THROWS_WITH(decode<float>("PK\x03\x04 this is a zip file, not a model"), Catch::Contains("wrong magic"));
  CHECK_THROWS_WITH(decode<float>(""), Catch::Contains("truncated"));
  std::string g = f;
  put_u32(g, 8, 2);
  CHECK_THROWS_WITH(decode<float>(g), Catch::Contains("format version 2 is newer") && Catch::Contains("(version 1)"));
  put_u32(g, 8, 0);
  CHECK_THROWS_WITH(decode<float>(g), Catch::Contains("invalid format version 0"));
  g = f;
  put_u32(g, 12, 4);
  fix_crc(g);
  CHECK_THROWS_WITH(decode<float>(g), Catch::Contains("unknown flags"));
  g = f;
  put_u32(g, 16, 9);
  fix_crc(g);
  CHECK_THROWS_WITH(decode<float>(g), Catch::Contains("unknown scalar type"));
  g = f;
  g[40] = static_cast<char>(g[40] ^ 0x10);
  CHECK_THROWS_WITH(decode<float>(g), Catch::Contains("checksum mismatch"));
}

TEST_CASE("Model format: length fields that claim gigabytes are refused before allocating", "[model_format][errors]") {
  const std::string f = SmallModel<float>().bytes();
  // The first section's length field: header 32, kind 4, name length 4 + "architecture" 12.
  std::string g = f;
  put_u64(g, 52, std::uint64_t(1) << 33);
  fix_crc(g);
  CHECK_THROWS_WITH(decode<float>(g), Catch::Contains("claims 8589934592 bytes"));
  // The declared section count.
  g = f;
  put_u32(g, 20, 0xFFFFFFFFu);
  fix_crc(g);
  CHECK_THROWS_WITH(decode<float>(g), Catch::Contains("section count 4294967295"));
  // The length of a string (the section name).
  g = f;
  put_u32(g, 36, 0x7FFFFFFFu);
  fix_crc(g);
  CHECK_THROWS_WITH(decode<float>(g), Catch::Contains("section name needs 2147483647 bytes"));
  // A layer count and a tensor shape inside the payloads.
  d::ByteWriter w;
  w.u32(0xFFFFFFFFu);
  CHECK_THROWS_WITH(decode<float>(craft(dense_arch("2"), w.take())), Catch::Contains("layer count is 4294967295"));
  d::ByteWriter t;
  t.u32(1);
  t.u32(1);
  t.str("kernel");
  t.u64(std::uint64_t(1) << 40);
  t.u64(std::uint64_t(1) << 40);  // the product overflows 64 bits: must still be refused
  CHECK_THROWS_WITH(decode<float>(craft(dense_arch("2"), t.take())), Catch::Contains("does not fit"));
  // A layer whose config claims huge sizes is refused before the layer allocates.
  CHECK_THROWS_WITH(
      decode<float>(craft(dense_arch("1099511627776"), dense_weights({{"kernel", {3, 2}}, {"bias", {1, 2}}}))),
      Catch::Contains("needs at least 3298534883328 parameters"));
}

TEST_CASE("Model format: unknown layer types and configs that cannot build are refused", "[model_format][errors]") {
  const std::string w = dense_weights({{"kernel", {3, 2}}, {"bias", {1, 2}}});
  auto a = dense_arch("2");
  a.layers[0].type = "Conv2D";
  CHECK_THROWS_WITH(decode<float>(craft(a, w)), Catch::Contains("unknown layer type 'Conv2D'"));
  CHECK_THROWS_WITH(decode<float>(craft(dense_arch("-3"), w)),
                    Catch::Contains("cannot be recreated") && Catch::Contains("units"));
  CHECK_THROWS_WITH(decode<float>(craft(dense_arch("two"), w)), Catch::Contains("not an integer"));
  a = dense_arch("2");
  a.layers[0].config.set("activation", "swish");
  CHECK_THROWS_WITH(decode<float>(craft(a, w)), Catch::Contains("unknown activation 'swish'"));
  // Dense cannot take integer ids: the build fails, and the message says so.
  CHECK_THROWS_WITH(decode<float>(craft(dense_arch("2", Shape::ids(4)), w)),
                    Catch::Contains("cannot take integer ids"));
  a = dense_arch("2");
  a.input.features = 0;
  CHECK_THROWS_WITH(decode<float>(craft(a, w)), Catch::Contains("invalid input features 0"));
  a = dense_arch("2");
  a.layers.push_back(a.layers[0]);
  CHECK_THROWS_WITH(decode<float>(craft(a, w)), Catch::Contains("weights section has 1 layers, the architecture 2"));
  d::ByteWriter two;
  two.u32(2);
  for (int i = 0; i < 2; ++i) {
    two.u32(2);
    two.str("kernel"), two.u64(3), two.u64(2);
    for (int k = 0; k < 6; ++k) two.f32(0.f);
    two.str("bias"), two.u64(1), two.u64(2);
    for (int k = 0; k < 2; ++k) two.f32(0.f);
  }
  a.layers[1].config.set("units", "2");
  CHECK_THROWS_WITH(decode<float>(craft(a, two.data())), Catch::Contains("the name is also layer 0's"));
  a.layers[1].name = "";
  CHECK_THROWS_WITH(decode<float>(craft(a, two.data())), Catch::Contains("empty layer name"));
}

TEST_CASE("Model format: weights that do not fit the architecture are refused", "[model_format][errors]") {
  const auto a = dense_arch("2");
  CHECK(decode<float>(craft(a, dense_weights({{"kernel", {3, 2}}, {"bias", {1, 2}}}))).layers.size() == 1);
  CHECK_THROWS_WITH(decode<float>(craft(a, dense_weights({{"kernel", {3, 3}}, {"bias", {1, 2}}}))),
                    Catch::Contains("parameter 0 is 'kernel' 3x2, the file holds 'kernel' 3x3"));
  CHECK_THROWS_WITH(decode<float>(craft(a, dense_weights({{"kernel", {2, 3}}, {"bias", {1, 2}}}))),
                    Catch::Contains("the file holds 'kernel' 2x3"));
  CHECK_THROWS_WITH(decode<float>(craft(a, dense_weights({{"bias", {1, 2}}, {"kernel", {3, 2}}}))),
                    Catch::Contains("the file holds 'bias'"));
  CHECK_THROWS_WITH(decode<float>(craft(a, dense_weights({{"kernel", {3, 2}}}))),
                    Catch::Contains("has 2 parameter tensors, the file holds 1"));
  CHECK_THROWS_WITH(decode<float>(craft(a, dense_weights({{"kernel", {3, 2}}, {"bias", {1, 2}}, {"extra", {1, 1}}}))),
                    Catch::Contains("has 2 parameter tensors, the file holds 3"));
}

TEST_CASE("Model format: trailing garbage and bytes between sections are refused", "[model_format][errors]") {
  const std::string f = SmallModel<float>().bytes();
  CHECK_THROWS_WITH(decode<float>(f + "x"), Catch::Contains("1 bytes of trailing data"));
  CHECK_THROWS_WITH(decode<float>(f + f), Catch::Contains("trailing data"));
  // A payload with bytes after its last record.
  d::ByteWriter w;
  w.bytes(dense_weights({{"kernel", {3, 2}}, {"bias", {1, 2}}}));
  w.u8(0);
  CHECK_THROWS_WITH(decode<float>(craft(dense_arch("2"), w.take())),
                    Catch::Contains("unexpected bytes after the last layer"));
}

TEST_CASE("Model format: sections must be architecture, weights, then unique extras", "[model_format][errors]") {
  const std::string arch = d::encode_architecture(dense_arch("2"));
  const std::string w = dense_weights({{"kernel", {3, 2}}, {"bias", {1, 2}}});
  const d::Section A{d::kSectionArchitecture, "architecture", arch}, W{d::kSectionWeights, "weights", w},
      X{d::kSectionExtra, "vocabulary", "v"};
  CHECK_NOTHROW(decode<float>(d::encode_container(d::kScalarFloat32, {A, W, X})));
  CHECK_THROWS_WITH(decode<float>(d::encode_container(d::kScalarFloat32, {W, A})), Catch::Contains("must start with"));
  CHECK_THROWS_WITH(decode<float>(d::encode_container(d::kScalarFloat32, {A})), Catch::Contains("must start with"));
  CHECK_THROWS_WITH(decode<float>(d::encode_container(d::kScalarFloat32, {A, W, X, X})),
                    Catch::Contains("duplicate section 'vocabulary'"));
  CHECK_THROWS_WITH(decode<float>(d::encode_container(d::kScalarFloat32, {A, W, A})), Catch::Contains("has kind 1"));
}

TEST_CASE("Model format: non-finite weights are refused on save and on load", "[model_format][errors]") {
  SmallModel<float> m;
  m.layers[1]->param(0)(1, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(m.bytes(), NumericError);
  std::string w = dense_weights({{"kernel", {3, 2}}, {"bias", {1, 2}}});
  const float inf = std::numeric_limits<float>::infinity();
  std::uint32_t bits = 0;
  std::memcpy(&bits, &inf, 4);
  put_u32(w, w.size() - 4, bits);  // the last bias value
  CHECK_THROWS_WITH(decode<float>(craft(dense_arch("2"), w)),
                    Catch::Contains("'bias' holds a non-finite value at index 1"));
}

}  // namespace test_model_format
