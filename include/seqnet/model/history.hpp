#pragma once
/// \file
/// What fit() returns: one EpochLog per finished epoch ("loss", the metrics, "val_loss", the validation
/// metrics, in that order, plus the epoch's wall time) and why training ended. Epochs are numbered from 0
/// in the API, as Keras' callbacks number them; printed text counts from 1.

#include "seqnet/core/error.hpp"

#include <string>
#include <utility>
#include <vector>

namespace seqnet {

/// Named scalar values in a fixed order ("loss", "accuracy", "val_loss", ...).
using LogValues = std::vector<std::pair<std::string, double>>;

/// Looks up `key` in `values`; throws InvalidArgument listing the keys there are.
inline double log_value(const LogValues& values, const std::string& key) {
  for (const auto& kv : values)
    if (kv.first == key) return kv.second;
  std::string keys;
  for (const auto& kv : values) keys += (keys.empty() ? "" : ", ") + kv.first;
  throw InvalidArgument("no value named '" + key + "' in the log (it has: " + (keys.empty() ? "nothing" : keys) + ")");
}

/// The results of one epoch.
struct EpochLog {
  int epoch = 0;       ///< 0-based epoch number
  LogValues values;    ///< "loss", metrics, then (with validation data) "val_loss" and "val_<metric>"
  double seconds = 0;  ///< wall time of the epoch, validation included

  bool has(const std::string& key) const {
    for (const auto& kv : values)
      if (kv.first == key) return true;
    return false;
  }
  /// The value named `key` (throws InvalidArgument if there is none).
  double get(const std::string& key) const { return log_value(values, key); }
};

/// Why fit() returned.
enum class StopReason {
  Completed,        ///< every requested epoch ran
  Callback,         ///< a callback (e.g. EarlyStopping) asked to stop
  NonFiniteLoss,    ///< a batch loss was NaN or infinite; the model keeps its last finite weights
  NonFiniteWeights  ///< a step made a weight NaN or infinite; that step was undone
};

inline const char* to_string(StopReason r) {
  switch (r) {
    case StopReason::Completed:
      return "completed";
    case StopReason::Callback:
      return "callback";
    case StopReason::NonFiniteLoss:
      return "non-finite loss";
    case StopReason::NonFiniteWeights:
      return "non-finite weights";
  }
  return "?";
}

/// Per-epoch logs of a fit() call and how it ended.
struct History {
  std::vector<EpochLog> epochs;  ///< one entry per epoch that finished
  StopReason reason = StopReason::Completed;
  int stopped_epoch = -1;   ///< 0-based epoch in which training stopped early; -1 if it completed
  int stopped_batch = -1;   ///< 0-based batch of that epoch for a numeric stop; -1 otherwise
  std::string stop_reason;  ///< a sentence saying what happened (empty when completed)

  /// Number of epochs that finished.
  int size() const { return static_cast<int>(epochs.size()); }
  /// The value `key` of every finished epoch, in order ("loss", "val_accuracy", ...).
  std::vector<double> series(const std::string& key) const {
    std::vector<double> out;
    out.reserve(epochs.size());
    for (const auto& e : epochs) out.push_back(e.get(key));
    return out;
  }
  /// The names logged each epoch (those of the last epoch; every epoch logs the same names).
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    if (!epochs.empty())
      for (const auto& kv : epochs.back().values) out.push_back(kv.first);
    return out;
  }
};

}  // namespace seqnet
