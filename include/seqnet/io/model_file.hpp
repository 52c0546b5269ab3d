#pragma once
/// \file
/// Saving and loading Sequential models (format: io/model_format.hpp and docs/file-format.md).
///
///  - save_model() writes atomically (io/atomic_file.hpp): a process killed at any point leaves either the
///    old file or the complete new one at `path`, at worst plus a stale "<path>.tmp.<pid>.<n>".
///  - load_model() checks everything before it trusts it: magic, version, declared length, CRC-32C, then
///    every count and length against the bytes that remain, each layer's sizes against the weights the file
///    holds (before the layer allocates anything), and each weight tensor's name and shape against the built
///    architecture. Any problem is a FormatError saying what and where; file access problems are IoError.
///  - A float32 file loads as double (widening is exact); a float64 file does not load as float (narrowing
///    would silently change the model's predictions).

#include "seqnet/io/atomic_file.hpp"
#include "seqnet/io/model_format.hpp"
#include "seqnet/model/sequential.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace seqnet {

/// The model file's bytes: architecture, weights (in T's precision) and `extras`. Throws StateError for an
/// unbuilt model and NumericError when a weight is NaN or infinite.
template <typename T>
std::string serialize_model(const Sequential<T>& model, const ModelExtras& extras = {}) {
  if (!model.built()) throw StateError(model.name() + ": saving needs a built model; call build(input_shape) first");
  std::vector<const Layer<T>*> layers;
  for (const auto& l : model.layers()) layers.push_back(l.get());
  return detail::encode_model<T>(model.input_shape(), layers, extras, model.name(), model.seed());
}

/// A model from a model file's bytes (see load_model); the extra sections go to *extras when given.
template <typename T>
Sequential<T> deserialize_model(std::string_view bytes, ModelExtras* extras = nullptr,
                                const std::string& where = "model file") {
  detail::DecodedModel<T> d = detail::decode_model<T>(bytes, extras, where);
  SequentialOptions options;
  options.seed = d.seed;
  options.name = d.model_name;
  Sequential<T> model(options);
  // The decoded layers hold the weights; the model builds its own instances on its flat arrays.
  for (const auto& l : d.layers) {
    auto copy = l->clone_unbuilt();
    copy->set_name(l->name());
    model.add(std::move(copy));
  }
  model.build(d.input);
  for (std::size_t i = 0; i < d.layers.size(); ++i)
    for (std::size_t k = 0; k < d.layers[i]->param_specs().size(); ++k) model.layer(i).param(k) = d.layers[i]->param(k);
  return model;
}

/// Saves a built model to `path` atomically (see the file comment). Throws IoError naming the path and
/// the cause when the file cannot be written; the previous file at `path`, if any, is then unchanged.
template <typename T>
void save_model(const Sequential<T>& model, const std::string& path, const ModelExtras& extras = {}) {
  detail::write_file_atomic(path, serialize_model(model, extras));
}

/// Loads a model saved by save_model(). A float32 file loads as Sequential<double> too (exactly); a float64
/// file does not load as float. Throws IoError when the file cannot be read and FormatError, naming the
/// path and the problem, when its content is not a valid model.
template <typename T>
Sequential<T> load_model(const std::string& path, ModelExtras* extras = nullptr) {
  return deserialize_model<T>(detail::read_file(path), extras, "model file '" + path + "'");
}

}  // namespace seqnet
