#pragma once
/// \file
/// Parameters. A layer DECLARES its parameters (ParamSpec: name, Keras shape, initializer); whoever owns
/// the storage BINDS them to contiguous memory. A Sequential model owns one flat array of all values and
/// one of all gradients (and one more gradient array per extra thread), so the optimizer, gradient clipping
/// and the sum of per-thread gradients are single loops. A layer used on its own owns its storage.

#include "seqnet/core/init.hpp"
#include "seqnet/core/types.hpp"

#include <string>

namespace seqnet {

/// One parameter tensor as a layer declares it. Shapes follow Keras (kernel: inputs x outputs; bias: 1 x n),
/// so values are interchangeable with Keras' get_weights() after a reshape of the bias.
struct ParamSpec {
  std::string name;  ///< "kernel", "recurrent_kernel", "bias", "embeddings", ...
  Index rows = 0;
  Index cols = 0;
  Initializer init;
  Index size() const { return rows * cols; }
};

/// A named, non-owning view of one parameter and its gradient.
template <typename T>
struct ParamRef {
  const ParamSpec* spec;
  MatrixMap<T> value;
  MatrixMap<T> grad;
};

}  // namespace seqnet
