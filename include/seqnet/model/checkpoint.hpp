#pragma once
/// \file
/// ModelCheckpoint: saves the model (architecture, weights and extras such as the vocabulary) at the end of
/// an epoch, with Keras' semantics:
///  - save_best_only: save only when the monitored value improves on the best seen so far (strictly lower
///    for "min", strictly higher for "max"; "auto" means max for names containing "acc", min otherwise).
///    A NaN value never improves, so a diverging run never replaces the best checkpoint. The best value is
///    kept across fit() calls, as Keras keeps it for the callback's lifetime.
///  - otherwise: save after every epoch.
/// Every save is atomic (save_model): a crash or kill during a save leaves the previous checkpoint intact.
/// A save that fails throws IoError and so ends fit(); the previous checkpoint is then unchanged.

#include "seqnet/core/error.hpp"
#include "seqnet/io/model_file.hpp"
#include "seqnet/model/callbacks.hpp"
#include "seqnet/model/history.hpp"
#include "seqnet/model/sequential.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace seqnet {

struct ModelCheckpointOptions {
  std::string path{};                ///< the model file to (re)write
  std::string monitor = "val_loss";  ///< logged value that decides what "best" is
  bool save_best_only = true;        ///< false: save after every epoch
  MonitorMode mode = MonitorMode::Auto;
  ModelExtras extras{};  ///< extra sections saved with every checkpoint (e.g. the vocabulary)
};

template <typename T>
class ModelCheckpoint final : public Callback<T> {
 public:
  explicit ModelCheckpoint(ModelCheckpointOptions options) : opt_(std::move(options)) {
    if (opt_.path.empty()) throw InvalidArgument("ModelCheckpoint: path must not be empty");
    if (opt_.monitor.empty()) throw InvalidArgument("ModelCheckpoint: monitor must name a logged value");
    maximize_ = opt_.mode == MonitorMode::Max ||
                (opt_.mode == MonitorMode::Auto && opt_.monitor.find("acc") != std::string::npos);
    best_ = maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }

  bool on_epoch_end(int epoch, const EpochLog& log, Sequential<T>& model) override {
    if (!opt_.save_best_only) {
      save(epoch, model);
      return false;
    }
    if (!log.has(opt_.monitor))
      throw InvalidArgument("ModelCheckpoint: monitored value '" + opt_.monitor + "' is not logged (" +
                            (opt_.monitor.rfind("val_", 0) == 0 ? "fit() has no validation data" : "no such metric") +
                            ")");
    const double current = log.get(opt_.monitor);
    // Keras: np.less / np.greater against the best so far; comparisons with NaN are false.
    const bool improved = maximize_ ? current > best_ : current < best_;
    if (improved) {
      best_ = current;
      best_epoch_ = epoch;
      save(epoch, model);
    }
    return false;
  }

  /// Best monitored value so far (+-infinity before the first improvement).
  double best() const { return best_; }
  /// 0-based epoch of the best value (-1 before any).
  int best_epoch() const { return best_epoch_; }
  /// 0-based epoch of the last save (-1 before any).
  int last_saved_epoch() const { return last_saved_epoch_; }
  /// Number of saves so far.
  int saves() const { return saves_; }
  const ModelCheckpointOptions& options() const { return opt_; }

 private:
  void save(int epoch, const Sequential<T>& model) {
    save_model(model, opt_.path, opt_.extras);
    last_saved_epoch_ = epoch;
    ++saves_;
  }

  ModelCheckpointOptions opt_;
  bool maximize_ = false;
  double best_ = 0.0;
  int best_epoch_ = -1;
  int last_saved_epoch_ = -1;
  int saves_ = 0;
};

}  // namespace seqnet
