#pragma once
/// \file
/// make_layer: recreates an unbuilt layer from its type name and Config (the inverse of Layer::type_name()
/// and Layer::config()). A plain chain of comparisons, no global registry: the set of layer types is the
/// library's, and a model file naming any other type is refused.

#include "seqnet/core/config.hpp"
#include "seqnet/core/error.hpp"
#include "seqnet/layers/bidirectional.hpp"
#include "seqnet/layers/dense.hpp"
#include "seqnet/layers/dropout.hpp"
#include "seqnet/layers/embedding.hpp"
#include "seqnet/layers/gru.hpp"
#include "seqnet/layers/layer.hpp"
#include "seqnet/layers/lstm.hpp"
#include "seqnet/layers/simple_rnn.hpp"

#include <memory>
#include <string>

namespace seqnet {

/// The layer types make_layer() knows, as Layer::type_name() spells them.
inline const char* known_layer_types() { return "Dense, Embedding, Dropout, SimpleRNN, LSTM, GRU, Bidirectional"; }

/// A new, unbuilt layer of type `type` (Layer::type_name()) with the settings `config` (Layer::config()).
/// Throws FormatError for an unknown type, and whatever the layer's from_config throws for bad settings.
/// Bidirectional reads its wrapped layer from the keys under "layer." ("layer.type" names its type); only a
/// recurrent layer (SimpleRNN, LSTM, GRU) may be wrapped.
template <typename T>
std::unique_ptr<Layer<T>> make_layer(const std::string& type, const Config& config) {
  if (type == "Dense") return Dense<T>::from_config(config);
  if (type == "Embedding") return Embedding<T>::from_config(config);
  if (type == "Dropout") return Dropout<T>::from_config(config);
  if (type == "SimpleRNN") return SimpleRNN<T>::from_config(config);
  if (type == "LSTM") return LSTM<T>::from_config(config);
  if (type == "GRU") return GRU<T>::from_config(config);
  if (type == "Bidirectional") {
    const std::string inner_type = config.get_string("layer.type");
    // Only recurrent layers can be wrapped; this also bounds the nesting depth for untrusted input.
    if (inner_type != "SimpleRNN" && inner_type != "LSTM" && inner_type != "GRU")
      throw FormatError("Bidirectional: cannot wrap a layer of type '" + inner_type +
                        "' (expected SimpleRNN, LSTM or GRU)");
    return Bidirectional<T>::from_config(config, make_layer<T>(inner_type, config.sub("layer.")));
  }
  throw FormatError("unknown layer type '" + type + "' (known: " + known_layer_types() + ")");
}

}  // namespace seqnet
