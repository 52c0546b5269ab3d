#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <seqnet/model/callbacks.hpp>
#include <seqnet/model/sequential.hpp>
#include <seqnet/optim/sgd.hpp>

#include <string>
#include <vector>

namespace test_callbacks {

using namespace seqnet;
using seqnet_test::log_of;
using seqnet_test::TempPath;
using seqnet_test::tiny;

namespace {

// Feeds `values` as successive epochs (weights set to {epoch, epoch} first); returns the epoch that stopped, or -1.
int feed(EarlyStopping<double>& es, Sequential<double>& m, const std::string& key, const std::vector<double>& values) {
  es.on_train_begin(m);
  for (std::size_t e = 0; e < values.size(); ++e) {
    m.set_weights({double(e), double(e)});
    if (es.on_epoch_end(static_cast<int>(e), log_of(static_cast<int>(e), key, values[e]), m))
      return static_cast<int>(e);
  }
  return -1;
}

}  // namespace

TEST_CASE("EarlyStopping: stops after `patience` epochs without improvement", "[callbacks][early_stopping]") {
  Sequential<double> m = tiny();
  EarlyStopping<double> p0(EarlyStoppingOptions{"val_loss", 0});
  // patience 0: the first epoch that does not improve stops (from the second epoch on).
  CHECK(feed(p0, m, "val_loss", {1.0, 0.9, 0.95, 0.5}) == 2);
  EarlyStopping<double> p2(EarlyStoppingOptions{"val_loss", 2});
  CHECK(feed(p2, m, "val_loss", {1.0, 0.9, 0.95, 0.91, 0.5}) == 3);
  CHECK(p2.best() == 0.9);
  CHECK(p2.best_epoch() == 1);
  CHECK(p2.stopped_epoch() == 3);
  // An improvement resets the count.
  EarlyStopping<double> reset(EarlyStoppingOptions{"val_loss", 2});
  CHECK(feed(reset, m, "val_loss", {1.0, 1.1, 0.8, 0.9, 0.85, 0.7}) == 4);
  CHECK(feed(reset, m, "val_loss", {1.0, 0.9, 0.8, 0.7}) == -1);  // reused: on_train_begin resets it
  CHECK(reset.stopped_epoch() == -1);
}

TEST_CASE("EarlyStopping: min_delta and the monitor's direction", "[callbacks][early_stopping]") {
  Sequential<double> m = tiny();
  // 0.95 beats 1.0 by 0.05, not by more than min_delta 0.1: no improvement.
  EarlyStopping<double> md(EarlyStoppingOptions{"val_loss", 2, 0.1});
  CHECK(feed(md, m, "val_loss", {1.0, 0.95, 0.92, 0.5}) == 2);
  CHECK(md.best() == 1.0);
  // "auto" maximises a name containing "acc".
  EarlyStopping<double> acc(EarlyStoppingOptions{"val_accuracy", 1});
  CHECK(feed(acc, m, "val_accuracy", {0.6, 0.7, 0.65, 0.66, 0.8}) == 2);
  CHECK(acc.best() == 0.7);
  // An explicit mode overrides the name.
  EarlyStopping<double> mx(EarlyStoppingOptions{"loss_like", 0, 0.0, MonitorMode::Max});
  CHECK(feed(mx, m, "loss_like", {1.0, 2.0, 1.5}) == 2);
  // A NaN never improves.
  EarlyStopping<double> nan(EarlyStoppingOptions{"val_loss", 0});
  CHECK(feed(nan, m, "val_loss", {1.0, std::nan("")}) == 1);
}

TEST_CASE("EarlyStopping: restore_best_weights writes back the best epoch's values at the end",
          "[callbacks][early_stopping]") {
  Sequential<double> m = tiny();
  EarlyStopping<double> es(EarlyStoppingOptions{"val_loss", 2, 0.0, MonitorMode::Auto, true});
  CHECK(feed(es, m, "val_loss", {1.0, 0.5, 0.7, 0.6}) == 3);
  CHECK(m.get_weights() == std::vector<double>{3, 3});
  es.on_train_end(m, History{});
  CHECK(es.restored());
  CHECK(m.get_weights() == std::vector<double>{1, 1});  // weights of epoch 1 (val_loss 0.5)
  // Also when training ran to the end without stopping.
  EarlyStopping<double> full(EarlyStoppingOptions{"val_loss", 5, 0.0, MonitorMode::Auto, true});
  CHECK(feed(full, m, "val_loss", {1.0, 0.2, 0.7}) == -1);
  full.on_train_end(m, History{});
  CHECK(m.get_weights() == std::vector<double>{1, 1});
  // Without the option nothing is restored.
  EarlyStopping<double> keep(EarlyStoppingOptions{"val_loss", 0});
  feed(keep, m, "val_loss", {1.0, 2.0});
  keep.on_train_end(m, History{});
  CHECK_FALSE(keep.restored());
  CHECK(m.get_weights() == std::vector<double>{1, 1});
}

TEST_CASE("EarlyStopping: bad options and a missing monitor are errors", "[callbacks][early_stopping][errors]") {
  CHECK_THROWS_AS(EarlyStopping<double>(EarlyStoppingOptions{"val_loss", -1}), InvalidArgument);
  CHECK_THROWS_AS(EarlyStopping<double>(EarlyStoppingOptions{"val_loss", 0, -0.5}), InvalidArgument);
  CHECK_THROWS_AS(EarlyStopping<double>(EarlyStoppingOptions{""}), InvalidArgument);
  Sequential<double> m = tiny();
  EarlyStopping<double> es;
  es.on_train_begin(m);
  CHECK_THROWS_WITH(es.on_epoch_end(0, log_of(0, "accuracy", 0.5), m),
                    Catch::Contains("'val_loss' is not logged") && Catch::Contains("no validation data"));
}

namespace {
// Records the hooks fit() calls.
class Recorder final : public Callback<double> {
 public:
  std::vector<std::string> calls;
  int stop_at = -1;
  void on_train_begin(Sequential<double>&) override { calls.push_back("begin"); }
  bool on_epoch_end(int epoch, const EpochLog& log, Sequential<double>&) override {
    calls.push_back("epoch " + std::to_string(epoch) + (log.has("val_loss") ? " val" : ""));
    return epoch == stop_at;
  }
  void on_train_end(Sequential<double>&, const History& h) override {
    calls.push_back("end " + std::to_string(h.size()));
  }
};
}  // namespace

TEST_CASE("Callbacks: fit calls the hooks in order and stops when one asks", "[callbacks]") {
  Sequential<double> m = tiny();
  m.compile(LossKind::MeanSquaredError, SGD<double>());
  Tensor<double> x({10, 1}, 1.0), y({10}, 2.0);
  FitOptions<double> o;
  o.epochs = 5;
  o.batch_size = 4;
  o.validation_split = 0.2;
  o.verbose = Verbosity::Silent;
  Recorder r;
  r.stop_at = 2;
  const History h = m.fit(x, y, o, {&r});
  CHECK(r.calls == std::vector<std::string>{"begin", "epoch 0 val", "epoch 1 val", "epoch 2 val", "end 3"});
  CHECK(h.reason == StopReason::Callback);
  CHECK(h.stopped_epoch == 2);
  CHECK(h.size() == 3);
}

TEST_CASE("Callbacks: EarlyStopping in fit restores the best weights", "[callbacks][early_stopping]") {
  // Validation targets differ from training targets, so val_loss gets worse as training goes on.
  Sequential<double> m = tiny();
  m.set_weights({0.0, 0.0});
  m.compile(LossKind::MeanSquaredError, SGD<double>(SGDOptions{0.05}));
  Tensor<double> x({8, 1}, 1.0), y({8}, 4.0), vx({4, 1}, 1.0), vy({4}, 0.5);
  FitOptions<double> o;
  o.epochs = 30;
  o.batch_size = 8;
  o.validation_x = &vx;
  o.validation_y = &vy;
  o.verbose = Verbosity::Silent;
  EarlyStopping<double> es(EarlyStoppingOptions{"val_loss", 2, 0.0, MonitorMode::Auto, true});
  const History h = m.fit(x, y, o, {&es});
  CHECK(h.reason == StopReason::Callback);
  CHECK(h.size() == 3);  // epoch 0 is best, epochs 1 and 2 are worse
  CHECK(es.best_epoch() == 0);
  CHECK(m.evaluate(vx, vy).loss == Approx(h.epochs[0].get("val_loss")));
}

}  // namespace test_callbacks
