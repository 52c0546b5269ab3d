#pragma once
/// \file
/// The seqnet model file format: architecture, weights and named extra sections (the vocabulary, training metadata)
/// in one checksummed binary container; docs/file-format.md describes it byte by byte. This header
/// encodes and decodes models given as layers; io/model_file.hpp is the API on Sequential.
///
/// Decoding checks everything before it trusts it: magic, version, declared length, CRC-32C, then every
/// count and length against the bytes that remain (so no length field can cause a large allocation), each
/// layer's sizes against the weights the file holds (before the layer is built), and each weight tensor's
/// name and shape against the built architecture. Any problem is a FormatError saying what and where.
/// float32 weights decode as double too (exactly); float64 weights do not decode as float.

#include "seqnet/core/config.hpp"
#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"
#include "seqnet/detail/crc32.hpp"
#include "seqnet/io/binary.hpp"
#include "seqnet/io/layer_factory.hpp"
#include "seqnet/layers/layer.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace seqnet {

/// Named extra sections stored with a model (name -> bytes), e.g. "vocabulary" -> Vocabulary::serialize().
/// Names are 1 to 255 bytes and may not be "architecture" or "weights".
struct ModelExtras {
  std::map<std::string, std::string> sections{};

  void set(const std::string& name, std::string bytes) { sections[name] = std::move(bytes); }
  bool has(const std::string& name) const { return sections.count(name) != 0; }
  /// The bytes of section `name`; throws InvalidArgument when there is none.
  const std::string& get(const std::string& name) const {
    const auto it = sections.find(name);
    if (it == sections.end()) throw InvalidArgument("model extras: no section named '" + name + "'");
    return it->second;
  }
};

namespace detail {

// ---- container constants ------------------------------------------------------------------------------
inline constexpr char kModelMagic[8] = {'\x89', 'S', 'E', 'Q', 'N', 'E', 'T', '\n'};
inline constexpr std::uint32_t kModelFormatVersion = 1;
inline constexpr std::size_t kModelHeaderBytes = 32;  // magic 8, version 4, flags 4, scalar 4, sections 4, length 8
inline constexpr std::size_t kModelTrailerBytes = 4;  // CRC-32C
inline constexpr std::uint32_t kScalarFloat32 = 1;
inline constexpr std::uint32_t kScalarFloat64 = 2;
inline constexpr std::uint32_t kSectionArchitecture = 1;
inline constexpr std::uint32_t kSectionWeights = 2;
inline constexpr std::uint32_t kSectionExtra = 3;

template <typename T>
constexpr std::uint32_t scalar_tag() {
  return std::is_same<T, float>::value ? kScalarFloat32 : kScalarFloat64;
}
inline const char* scalar_tag_name(std::uint32_t tag) {
  return tag == kScalarFloat32 ? "float32" : tag == kScalarFloat64 ? "float64" : "unknown";
}

inline std::uint32_t encoding_code(Encoding e) {
  switch (e) {
    case Encoding::Dense:
      return 0;
    case Encoding::Ids:
      return 1;
    case Encoding::OneHot:
      return 2;
  }
  return 0;
}

/// One section of the container as written: kind, name, payload.
struct Section {
  std::uint32_t kind = 0;
  std::string name;
  std::string payload;
};

/// Writes the container around `sections`: header, sections, CRC-32C trailer.
inline std::string encode_container(std::uint32_t scalar, const std::vector<Section>& sections) {
  std::size_t total = kModelHeaderBytes + kModelTrailerBytes;
  for (const auto& s : sections) total += 4 + 4 + s.name.size() + 8 + s.payload.size();
  ByteWriter w;
  w.reserve(total);
  w.bytes(std::string_view(kModelMagic, sizeof kModelMagic));
  w.u32(kModelFormatVersion);
  w.u32(0);  // flags: none defined in version 1
  w.u32(scalar);
  w.u32(static_cast<std::uint32_t>(sections.size()));
  w.u64(total);
  for (const auto& s : sections) {
    w.u32(s.kind);
    w.str(s.name);
    w.u64(s.payload.size());
    w.bytes(s.payload);
  }
  w.u32(crc32c(w.data().data(), w.size()));
  return w.take();
}

/// A section as read: a view into the input.
struct SectionView {
  std::uint32_t kind = 0;
  std::string name;
  std::string_view payload;
  std::size_t offset = 0;  // of the payload in the file
};

inline std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(v));
  return buf;
}

/// Checks the container (magic, version, length, checksum, flags, scalar type) and splits it into
/// sections. `where` prefixes every message ("model file 'm.seqnet'"). Returns the file's scalar tag.
inline std::uint32_t decode_container(std::string_view in, const std::string& where, std::vector<SectionView>& out) {
  auto fail = [&](const std::string& msg) -> void { throw FormatError(where + ": " + msg); };
  const std::string_view magic(kModelMagic, sizeof kModelMagic);
  if (in.size() < magic.size()) {
    if (in == magic.substr(0, in.size()))
      fail("truncated: " + std::to_string(in.size()) + " bytes, shorter than the " + std::to_string(kModelHeaderBytes) +
           "-byte header");
    fail("not a seqnet model file (wrong magic number)");
  }
  if (in.substr(0, magic.size()) != magic) fail("not a seqnet model file (wrong magic number)");
  if (in.size() < kModelHeaderBytes)
    fail("truncated: " + std::to_string(in.size()) + " bytes, shorter than the " + std::to_string(kModelHeaderBytes) +
         "-byte header");
  ByteReader h(in.substr(0, kModelHeaderBytes), where);
  h.bytes(magic.size(), "magic");
  const std::uint32_t version = h.u32("format version");
  if (version == 0) fail("invalid format version 0");
  if (version > kModelFormatVersion)
    fail("format version " + std::to_string(version) + " is newer than this seqnet reads (version " +
         std::to_string(kModelFormatVersion) + "); update seqnet to load it");
  const std::uint32_t flags = h.u32("flags");
  const std::uint32_t scalar = h.u32("scalar type");
  const std::uint32_t nsections = h.u32("section count");
  const std::uint64_t declared = h.u64("file length");
  if (declared < kModelHeaderBytes + kModelTrailerBytes)
    fail("invalid file length " + std::to_string(declared) + " in the header");
  if (in.size() < declared)
    fail("truncated: " + std::to_string(in.size()) + " bytes, the header says " + std::to_string(declared));
  if (in.size() > declared)
    fail(std::to_string(in.size() - declared) + " bytes of trailing data after the end of the model (the header says " +
         std::to_string(declared) + " bytes)");
  const std::size_t body_end = in.size() - kModelTrailerBytes;
  ByteReader t(in.substr(body_end), where, body_end);
  const std::uint32_t stored = t.u32("checksum");
  const std::uint32_t computed = crc32c(in.data(), body_end);
  if (stored != computed)
    fail("checksum mismatch: stored " + hex32(stored) + ", computed " + hex32(computed) + " (the file is corrupted)");
  if (flags != 0)
    fail("unknown flags " + hex32(flags) + " (version " + std::to_string(kModelFormatVersion) + " defines none)");
  if (scalar != kScalarFloat32 && scalar != kScalarFloat64) fail("unknown scalar type tag " + std::to_string(scalar));

  ByteReader r(in.substr(kModelHeaderBytes, body_end - kModelHeaderBytes), where, kModelHeaderBytes);
  if (nsections > r.remaining() / 16)
    r.fail(kModelHeaderBytes - 12,
           "section count " + std::to_string(nsections) + " cannot fit in " + std::to_string(r.remaining()) + " bytes");
  out.clear();
  out.reserve(nsections);
  for (std::uint32_t i = 0; i < nsections; ++i) {
    SectionView s;
    s.kind = r.u32("section kind");
    s.name = r.str("section name");
    const std::size_t len_at = r.offset();
    const std::uint64_t len = r.u64("section length");
    if (len > r.remaining())
      r.fail(len_at, "section '" + s.name + "' claims " + std::to_string(len) + " bytes, but only " +
                         std::to_string(r.remaining()) + " remain");
    s.offset = r.offset();
    s.payload = r.bytes(len, "section payload");
    out.push_back(std::move(s));
  }
  if (!r.at_end()) r.fail(std::to_string(r.remaining()) + " unexpected bytes after the last section");
  return scalar;
}

// ---- architecture ---------------------------------------------------------------------------------
struct LayerRecord {
  std::string name;
  std::string type;
  Config config;
};
struct ArchitectureRecord {
  std::string model_name = "sequential";
  std::uint64_t seed = 0;
  Shape input;
  std::vector<LayerRecord> layers;
};

inline std::string encode_architecture(const ArchitectureRecord& a) {
  ByteWriter w;
  w.str(a.model_name);
  w.u64(a.seed);
  w.i64(static_cast<std::int64_t>(a.input.steps));
  w.i64(static_cast<std::int64_t>(a.input.features));
  w.u32(encoding_code(a.input.encoding));
  w.u32(static_cast<std::uint32_t>(a.layers.size()));
  for (const auto& l : a.layers) {
    w.str(l.name);
    w.str(l.type);
    w.u32(static_cast<std::uint32_t>(l.config.entries().size()));
    for (const auto& e : l.config.entries()) {
      w.str(e.first);
      w.str(e.second);
    }
  }
  return w.take();
}

inline ArchitectureRecord decode_architecture(const SectionView& s, const std::string& where) {
  ByteReader r(s.payload, where + ": architecture", s.offset);
  ArchitectureRecord a;
  a.model_name = r.str("model name");
  a.seed = r.u64("seed");
  const std::int64_t steps = r.i64("input steps");
  const std::int64_t features = r.i64("input features");
  const std::uint32_t enc = r.u32("input encoding");
  if (steps < 0 || steps > (std::int64_t(1) << 40)) r.fail("invalid input steps " + std::to_string(steps));
  if (features <= 0 || features > (std::int64_t(1) << 40)) r.fail("invalid input features " + std::to_string(features));
  if (enc > 2) r.fail("unknown input encoding " + std::to_string(enc));
  a.input.steps = static_cast<Index>(steps);
  a.input.features = static_cast<Index>(features);
  a.input.encoding = enc == 0 ? Encoding::Dense : enc == 1 ? Encoding::Ids : Encoding::OneHot;
  if (a.input.encoding == Encoding::Ids && a.input.features != 1)
    r.fail("input of integer ids must have 1 feature, not " + std::to_string(features));
  const std::uint32_t n = r.count("layer count", 12);  // name, type, entry count: 4 bytes each at least
  a.layers.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    LayerRecord l;
    l.name = r.str("layer name");
    l.type = r.str("layer type");
    const std::uint32_t entries = r.count("config entry count", 8);
    for (std::uint32_t k = 0; k < entries; ++k) {
      std::string key = r.str("config key");
      std::string value = r.str("config value");
      if (l.config.has(key))
        r.fail("layer " + std::to_string(i) + " '" + l.name + "': duplicate config key '" + key + "'");
      l.config.set(key, value);
    }
    a.layers.push_back(std::move(l));
  }
  if (!r.at_end()) r.fail(std::to_string(r.remaining()) + " unexpected bytes after the last layer");
  return a;
}

// ---- weights ------------------------------------------------------------------------------------
struct TensorView {
  std::string name;
  std::uint64_t rows = 0, cols = 0;
  std::string_view bytes;  // rows*cols scalars, column-major, little-endian
  std::size_t offset = 0;
};

template <typename T>
void encode_tensor(ByteWriter& w, const std::string& name, const MatrixMap<T>& m) {
  w.str(name);
  w.u64(static_cast<std::uint64_t>(m.rows()));
  w.u64(static_cast<std::uint64_t>(m.cols()));
  const T* p = m.data();  // column-major: the order of the model's flat array
  for (Index i = 0; i < m.size(); ++i) {
    if (std::is_same<T, float>::value)
      w.f32(static_cast<float>(p[i]));
    else
      w.f64(static_cast<double>(p[i]));
  }
}

/// Reads the weights section's structure (names, shapes, views of the values), checking every size
/// against the bytes that remain. `total` receives the number of values.
inline std::vector<std::vector<TensorView>> decode_weights(const SectionView& s, std::size_t scalar_bytes,
                                                           const std::string& where, std::uint64_t& total) {
  ByteReader r(s.payload, where + ": weights", s.offset);
  std::vector<std::vector<TensorView>> out;
  total = 0;
  const std::uint32_t nlayers = r.count("layer count", 4);
  out.reserve(nlayers);
  for (std::uint32_t i = 0; i < nlayers; ++i) {
    const std::uint32_t nparams = r.count("parameter count", 20);  // name 4, rows 8, cols 8
    std::vector<TensorView> layer;
    layer.reserve(nparams);
    for (std::uint32_t k = 0; k < nparams; ++k) {
      TensorView t;
      t.name = r.str("parameter name");
      const std::size_t shape_at = r.offset();
      t.rows = r.u64("parameter rows");
      t.cols = r.u64("parameter cols");
      const std::uint64_t room = r.remaining() / scalar_bytes;
      // rows * cols <= room, written without overflowing
      if (t.rows == 0 || t.cols == 0 || t.rows > room || t.cols > room / t.rows)
        r.fail(shape_at, "layer " + std::to_string(i) + " parameter '" + t.name + "' is " + std::to_string(t.rows) +
                             "x" + std::to_string(t.cols) + ", which does not fit in the " +
                             std::to_string(r.remaining()) + " bytes that remain");
      t.offset = r.offset();
      t.bytes = r.bytes(t.rows * t.cols * scalar_bytes, "parameter values");
      total += t.rows * t.cols;
      layer.push_back(std::move(t));
    }
    out.push_back(std::move(layer));
  }
  if (!r.at_end()) r.fail(std::to_string(r.remaining()) + " unexpected bytes after the last layer's weights");
  return out;
}

inline std::uint64_t sat_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::numeric_limits<std::uint64_t>::max();
  return a * b;
}
inline std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a ? std::numeric_limits<std::uint64_t>::max() : a + b;
}
inline std::uint64_t config_size(const Config& c, const std::string& key) {
  if (!c.has(key)) return 0;
  long long v = 0;
  try {
    v = c.get_int(key);
  } catch (const Error&) {
    return 0;  // from_config reports it
  }
  return v > 0 ? static_cast<std::uint64_t>(v) : 0;
}

/// A LOWER bound on the parameters of a layer of this type and config fed `in_features` features, from
/// the Keras sizes in its config (kernel in x units plus recurrent kernel units x units; embeddings
/// input_dim x output_dim). Checked against the weights the file holds BEFORE the layer is built, so a
/// config claiming huge sizes is refused without allocating.
inline std::uint64_t min_params(const std::string& type, const Config& c, std::uint64_t in_features) {
  if (type == "Dense") return sat_mul(in_features, config_size(c, "units"));
  if (type == "Embedding") return sat_mul(config_size(c, "input_dim"), config_size(c, "output_dim"));
  if (type == "SimpleRNN" || type == "LSTM" || type == "GRU") {
    const std::uint64_t u = config_size(c, "units");
    return sat_add(sat_mul(in_features, u), sat_mul(u, u));
  }
  if (type == "Bidirectional")
    return sat_mul(2, min_params(c.get_string("layer.type", ""), c.sub("layer."), in_features));
  return 0;
}

inline void require_finite_scalar(double v, const std::string& where, const std::string& layer,
                                  const std::string& param, std::uint64_t index) {
  if (!std::isfinite(v))
    throw FormatError(where + ": weights: layer '" + layer + "' parameter '" + param +
                      "' holds a non-finite value at index " + std::to_string(index));
}

/// Copies a tensor's values from the file into m (converting float32 to T), refusing NaN and infinity.
template <typename T>
void load_tensor(const TensorView& t, std::uint32_t file_scalar, MatrixMap<T>& m, const std::string& where,
                 const std::string& layer) {
  ByteReader r(t.bytes, where + ": weights", t.offset);
  T* p = m.data();
  const std::uint64_t n = t.rows * t.cols;
  for (std::uint64_t i = 0; i < n; ++i) {
    const double v = file_scalar == kScalarFloat32 ? static_cast<double>(r.f32("value")) : r.f64("value");
    require_finite_scalar(v, where, layer, t.name, i);
    p[i] = static_cast<T>(v);
  }
}

/// A decoded model: the architecture and its layers, each built and holding the file's weights.
template <typename T>
struct DecodedModel {
  std::string model_name;
  std::uint64_t seed = 0;
  Shape input;
  std::vector<std::unique_ptr<Layer<T>>> layers;
};

/// Everything of deserialize_model but the Sequential: checks and decodes the bytes into built layers.
template <typename T>
DecodedModel<T> decode_model(std::string_view bytes, ModelExtras* extras, const std::string& where) {
  std::vector<SectionView> sections;
  const std::uint32_t scalar = decode_container(bytes, where, sections);
  if (scalar == kScalarFloat64 && std::is_same<T, float>::value)
    throw FormatError(where +
                      ": the weights are float64; load the model as double (narrowing them to float would change "
                      "its predictions)");
  if (sections.size() < 2 || sections[0].kind != kSectionArchitecture || sections[1].kind != kSectionWeights)
    throw FormatError(where + ": the file must start with an architecture section and a weights section");
  ModelExtras found;
  for (std::size_t i = 2; i < sections.size(); ++i) {
    const SectionView& s = sections[i];
    if (s.kind != kSectionExtra)
      throw FormatError(where + ": section " + std::to_string(i) + " ('" + s.name + "') has kind " +
                        std::to_string(s.kind) + ", expected " + std::to_string(kSectionExtra) + " (extra)");
    if (found.has(s.name)) throw FormatError(where + ": duplicate section '" + s.name + "'");
    found.set(s.name, std::string(s.payload));
  }

  const ArchitectureRecord arch = decode_architecture(sections[0], where);
  std::uint64_t total = 0;
  const std::size_t scalar_bytes = scalar == kScalarFloat32 ? 4 : 8;
  const std::vector<std::vector<TensorView>> weights = decode_weights(sections[1], scalar_bytes, where, total);
  if (weights.size() != arch.layers.size())
    throw FormatError(where + ": the weights section has " + std::to_string(weights.size()) +
                      " layers, the architecture " + std::to_string(arch.layers.size()));

  DecodedModel<T> out;
  out.model_name = arch.model_name;
  out.seed = arch.seed;
  out.input = arch.input;
  Shape shape = arch.input;
  for (std::size_t i = 0; i < arch.layers.size(); ++i) {
    const LayerRecord& rec = arch.layers[i];
    const std::string who = where + ": layer " + std::to_string(i) + " '" + rec.name + "' (" + rec.type + ")";
    if (rec.name.empty()) throw FormatError(who + ": empty layer name");
    for (std::size_t j = 0; j < i; ++j)
      if (arch.layers[j].name == rec.name)
        throw FormatError(who + ": the name is also layer " + std::to_string(j) + "'s");
    std::uint64_t in_file = 0;
    for (const auto& t : weights[i]) in_file += t.rows * t.cols;
    const std::uint64_t in_features = shape.encoding == Encoding::Ids ? 1 : static_cast<std::uint64_t>(shape.features);
    const std::uint64_t need = min_params(rec.type, rec.config, in_features);
    if (need > in_file)
      throw FormatError(who + ": its config needs at least " + std::to_string(need) +
                        " parameters, but the file holds " + std::to_string(in_file) + " for it");
    std::unique_ptr<Layer<T>> layer;
    try {
      layer = make_layer<T>(rec.type, rec.config);
      layer->set_name(rec.name);
      shape = layer->build(shape);
    } catch (const Error& e) {
      throw FormatError(who + ": cannot be recreated: " + e.what());
    }
    const auto& specs = layer->param_specs();
    if (specs.size() != weights[i].size())
      throw FormatError(who + ": has " + std::to_string(specs.size()) + " parameter tensors, the file holds " +
                        std::to_string(weights[i].size()));
    for (std::size_t k = 0; k < specs.size(); ++k) {
      const TensorView& t = weights[i][k];
      if (t.name != specs[k].name || t.rows != static_cast<std::uint64_t>(specs[k].rows) ||
          t.cols != static_cast<std::uint64_t>(specs[k].cols))
        throw FormatError(who + ": parameter " + std::to_string(k) + " is '" + specs[k].name + "' " +
                          std::to_string(specs[k].rows) + "x" + std::to_string(specs[k].cols) + ", the file holds '" +
                          t.name + "' " + std::to_string(t.rows) + "x" + std::to_string(t.cols));
      load_tensor<T>(t, scalar, layer->param(k), where, rec.name);
    }
    out.layers.push_back(std::move(layer));
  }
  if (extras) *extras = std::move(found);
  return out;
}

/// Encodes a model given as its name, seed, input shape and (built) layers, plus extras.
template <typename T>
std::string encode_model(const Shape& input, const std::vector<const Layer<T>*>& layers, const ModelExtras& extras,
                         const std::string& model_name = "sequential", std::uint64_t seed = 0) {
  ArchitectureRecord arch;
  arch.model_name = model_name;
  arch.seed = seed;
  arch.input = input;
  ByteWriter w;
  w.u32(static_cast<std::uint32_t>(layers.size()));
  for (const Layer<T>* l : layers) {
    if (!l->built()) throw StateError("save_model: layer '" + l->name() + "' is not built; build the model first");
    arch.layers.push_back(LayerRecord{l->name(), l->type_name(), l->config()});
    const auto& specs = l->param_specs();
    w.u32(static_cast<std::uint32_t>(specs.size()));
    for (std::size_t k = 0; k < specs.size(); ++k) {
      const MatrixMap<T>& m = l->param(k);
      if (!m.allFinite())
        throw NumericError("save_model: layer '" + l->name() + "' parameter '" + specs[k].name +
                           "' holds NaN or infinity; refusing to save a broken model");
      encode_tensor<T>(w, specs[k].name, m);
    }
  }
  std::vector<Section> sections;
  sections.push_back(Section{kSectionArchitecture, "architecture", encode_architecture(arch)});
  sections.push_back(Section{kSectionWeights, "weights", w.take()});
  for (const auto& e : extras.sections) {
    if (e.first.empty() || e.first.size() > 255 || e.first == "architecture" || e.first == "weights")
      throw InvalidArgument("save_model: invalid extra section name '" + e.first +
                            "' (1 to 255 bytes, not 'architecture' or 'weights')");
    sections.push_back(Section{kSectionExtra, e.first, e.second});
  }
  return encode_container(scalar_tag<T>(), sections);
}

}  // namespace detail
}  // namespace seqnet
