#pragma once
/// \file
/// Callbacks of Sequential::fit, with Keras' hooks: on_train_begin, on_epoch_end (after validation; return
/// true to stop training) and on_train_end (always called, also after a numeric stop). Epochs are 0-based.
///
/// EarlyStopping follows Keras: the monitored value improves when it beats the best so far by more than
/// min_delta (lower for "min", higher for "max"; "auto" means max for names containing "acc", min
/// otherwise); after `patience` epochs in a row without improvement (checked from the second epoch on),
/// training stops. With restore_best_weights the model's flat value array is copied at the best epoch (and
/// at the first epoch, so there is always something to restore) and written back when training ends,
/// whether it stopped early or ran all epochs (Keras 3 behaviour).

#include "seqnet/core/error.hpp"
#include "seqnet/model/history.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

namespace seqnet {

template <typename T>
class Sequential;

/// Base class of fit() callbacks. Every hook does nothing by default.
template <typename T>
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Sequential<T>& /*model*/) {}
  /// Called after each epoch (and its validation). Return true to stop training.
  virtual bool on_epoch_end(int /*epoch*/, const EpochLog& /*log*/, Sequential<T>& /*model*/) { return false; }
  /// Called once when fit() ends, however it ended.
  virtual void on_train_end(Sequential<T>& /*model*/, const History& /*history*/) {}
};

/// Whether smaller or larger values of the monitored quantity are better.
enum class MonitorMode { Auto, Min, Max };

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  int patience = 0;
  double min_delta = 0.0;
  MonitorMode mode = MonitorMode::Auto;
  bool restore_best_weights = false;
};

template <typename T>
class EarlyStopping final : public Callback<T> {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {}) : opt_(std::move(options)) {
    if (opt_.patience < 0)
      throw InvalidArgument("EarlyStopping: patience must be >= 0, got " + std::to_string(opt_.patience));
    if (!(opt_.min_delta >= 0))
      throw InvalidArgument("EarlyStopping: min_delta must be >= 0, got " + std::to_string(opt_.min_delta));
    if (opt_.monitor.empty()) throw InvalidArgument("EarlyStopping: monitor must name a logged value");
    maximize_ = opt_.mode == MonitorMode::Max ||
                (opt_.mode == MonitorMode::Auto && opt_.monitor.find("acc") != std::string::npos);
    reset();
  }

  void on_train_begin(Sequential<T>& /*model*/) override { reset(); }

  bool on_epoch_end(int epoch, const EpochLog& log, Sequential<T>& model) override {
    if (!log.has(opt_.monitor))
      throw InvalidArgument("EarlyStopping: monitored value '" + opt_.monitor + "' is not logged (" +
                            (opt_.monitor.rfind("val_", 0) == 0 ? "fit() has no validation data" : "no such metric") +
                            ")");
    const double current = log.get(opt_.monitor);
    if (opt_.restore_best_weights && best_weights_.empty()) save(model);
    ++wait_;
    if (improved(current)) {
      best_ = current;
      best_epoch_ = epoch;
      if (opt_.restore_best_weights) save(model);
      wait_ = 0;
      return false;
    }
    if (wait_ >= opt_.patience && epoch > 0) {
      stopped_epoch_ = epoch;
      return true;
    }
    return false;
  }

  void on_train_end(Sequential<T>& model, const History& /*history*/) override {
    if (opt_.restore_best_weights && !best_weights_.empty()) {
      model.set_weights(best_weights_);
      restored_ = true;
    }
  }

  /// Best monitored value seen (+-infinity before the first epoch).
  double best() const { return best_; }
  /// 0-based epoch of the best value (-1 before any).
  int best_epoch() const { return best_epoch_; }
  /// 0-based epoch in which this callback stopped training, -1 if it did not.
  int stopped_epoch() const { return stopped_epoch_; }
  /// Epochs since the last improvement.
  int wait() const { return wait_; }
  /// Whether on_train_end wrote the best weights back.
  bool restored() const { return restored_; }
  const EarlyStoppingOptions& options() const { return opt_; }

 private:
  void reset() {
    wait_ = 0;
    stopped_epoch_ = -1;
    best_epoch_ = -1;
    restored_ = false;
    best_ = maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    best_weights_.clear();
  }
  // Keras' _is_improvement: a NaN value never improves.
  bool improved(double current) const {
    return maximize_ ? current - opt_.min_delta > best_ : current + opt_.min_delta < best_;
  }
  void save(const Sequential<T>& model) { best_weights_ = model.get_weights(); }

  EarlyStoppingOptions opt_;
  bool maximize_ = false;
  int wait_ = 0, stopped_epoch_ = -1, best_epoch_ = -1;
  bool restored_ = false;
  double best_ = 0;
  std::vector<T> best_weights_;
};

}  // namespace seqnet
