#pragma once
/// \file
/// Recreates an optimizer from its name() and config(), e.g. when a model file records how it was compiled.

#include "seqnet/optim/adam.hpp"
#include "seqnet/optim/rmsprop.hpp"
#include "seqnet/optim/sgd.hpp"

#include <memory>
#include <string>

namespace seqnet {

/// The optimizer whose name() is `name` ("SGD", "RMSprop" or "Adam"), with the settings of `config`.
/// Unknown names are InvalidArgument; missing or malformed keys are FormatError (from Config).
template <typename T>
std::unique_ptr<Optimizer<T>> make_optimizer(const std::string& name, const Config& config) {
  if (name == "SGD") return SGD<T>::from_config(config);
  if (name == "RMSprop") return RMSprop<T>::from_config(config);
  if (name == "Adam") return Adam<T>::from_config(config);
  throw InvalidArgument("unknown optimizer '" + name + "' (expected SGD, RMSprop or Adam)");
}

}  // namespace seqnet
