// ModelCheckpoint (model/checkpoint.hpp): Keras' save_best_only semantics, atomic saves, and a real fit.

#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <seqnet/layers/dense.hpp>
#include <seqnet/model/checkpoint.hpp>
#include <seqnet/model/sequential.hpp>
#include <seqnet/optim/adam.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace test_checkpoint {

using namespace seqnet;
using seqnet_test::log_of;
using seqnet_test::TempPath;
using seqnet_test::tiny;

namespace {

// Feeds `values` as successive epochs, with the weights set to {epoch, epoch} first; returns the epochs
// after which the file changed.
std::vector<int> feed(ModelCheckpoint<double>& cb, Sequential<double>& m, const std::string& key,
                      const std::vector<double>& values) {
  std::vector<int> saved;
  for (std::size_t e = 0; e < values.size(); ++e) {
    m.set_weights({double(e), double(e)});
    const int before = cb.saves();
    CHECK_FALSE(cb.on_epoch_end(static_cast<int>(e), log_of(static_cast<int>(e), key, values[e]), m));
    if (cb.saves() != before) saved.push_back(static_cast<int>(e));
  }
  return saved;
}

double saved_weight(const std::string& path) { return load_model<double>(path).values()[0]; }

}  // namespace

TEST_CASE("ModelCheckpoint: saves only when the monitored loss improves, NaN never improves", "[checkpoint]") {
  TempPath tmp("checkpoint", "min.seqnet");
  Sequential<double> m = tiny();
  ModelCheckpoint<double> cb(ModelCheckpointOptions{tmp.path});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(feed(cb, m, "val_loss", {1.0, 0.8, 0.8, 0.9, 0.7, nan, 0.75}) == std::vector<int>{0, 1, 4});
  CHECK(cb.best() == 0.7);
  CHECK(cb.best_epoch() == 4);
  CHECK(cb.last_saved_epoch() == 4);
  CHECK(saved_weight(tmp.path) == 4.0);  // the weights of the best epoch, not the last
}

TEST_CASE("ModelCheckpoint: accuracy is maximised in auto mode, explicit modes override", "[checkpoint]") {
  TempPath tmp("checkpoint", "max.seqnet");
  Sequential<double> m = tiny();
  ModelCheckpoint<double> acc(ModelCheckpointOptions{tmp.path, "val_accuracy"});
  CHECK(feed(acc, m, "val_accuracy", {0.5, 0.6, 0.6, 0.55, 0.7}) == std::vector<int>{0, 1, 4});
  CHECK(saved_weight(tmp.path) == 4.0);
  ModelCheckpointOptions o{tmp.path, "val_loss"};
  o.mode = MonitorMode::Max;
  ModelCheckpoint<double> forced(o);
  CHECK(feed(forced, m, "val_loss", {0.5, 0.4, 0.9}) == std::vector<int>{0, 2});
  o.mode = MonitorMode::Min;
  o.monitor = "accuracy";
  ModelCheckpoint<double> min_acc(o);
  CHECK(feed(min_acc, m, "accuracy", {0.5, 0.6, 0.4}) == std::vector<int>{0, 2});
}

TEST_CASE("ModelCheckpoint: without save_best_only every epoch is saved", "[checkpoint]") {
  TempPath tmp("checkpoint", "all.seqnet");
  Sequential<double> m = tiny();
  ModelCheckpointOptions o{tmp.path};
  o.save_best_only = false;
  ModelCheckpoint<double> cb(o);
  CHECK(feed(cb, m, "loss_only", {0.1, 0.5, 0.9}) == std::vector<int>{0, 1, 2});  // no val_loss needed
  CHECK(saved_weight(tmp.path) == 2.0);
}

TEST_CASE("ModelCheckpoint: bad settings and a missing monitored value are refused", "[checkpoint][errors]") {
  CHECK_THROWS_AS(ModelCheckpoint<double>(ModelCheckpointOptions{""}), InvalidArgument);
  CHECK_THROWS_AS(ModelCheckpoint<double>(ModelCheckpointOptions{"x", ""}), InvalidArgument);
  TempPath tmp("checkpoint", "missing.seqnet");
  Sequential<double> m = tiny();
  ModelCheckpoint<double> cb(ModelCheckpointOptions{tmp.path});
  CHECK_THROWS_WITH(cb.on_epoch_end(0, log_of(0, "loss", 1.0), m),
                    Catch::Contains("'val_loss' is not logged") && Catch::Contains("no validation data"));
  CHECK(::access(tmp.path.c_str(), F_OK) != 0);
}

TEST_CASE("ModelCheckpoint: a save that fails throws IoError and keeps the previous checkpoint",
          "[checkpoint][errors]") {
  Sequential<double> m = tiny();
  const std::string bad = "/tmp/seqnet-no-such-folder-" + std::to_string(::getpid()) + "/ckpt.seqnet";
  ModelCheckpoint<double> cb(ModelCheckpointOptions{bad});
  CHECK_THROWS_AS(cb.on_epoch_end(0, log_of(0, "val_loss", 1.0), m), IoError);
  CHECK(cb.saves() == 0);
}

TEST_CASE("ModelCheckpoint: during fit it keeps the best epoch's model with its extras", "[checkpoint][fit]") {
  // y = 1 when x0 - x1 > 0: a few epochs of Adam on a tiny Dense network.
  const Index n = 200;
  Rng rng(4);
  Tensor<double> x({n, 2}), y({n, 1});
  for (Index i = 0; i < n; ++i) {
    x(i, 0) = rng.uniform(-1, 1);
    x(i, 1) = rng.uniform(-1, 1);
    y(i, 0) = x(i, 0) - x(i, 1) > 0 ? 1.0 : 0.0;
  }
  Sequential<double> m(SequentialOptions{3});
  m.add(Dense<double>(4, Activation::Tanh));
  m.add(Dense<double>(1, Activation::Sigmoid));
  m.build(Shape::vector(2));
  m.compile(LossKind::BinaryCrossentropy, Adam<double>(AdamOptions{0.05}), {Metric::BinaryAccuracy});
  TempPath tmp("checkpoint", "fit.seqnet");
  ModelCheckpointOptions o{tmp.path};
  o.extras.set("vocabulary", "not really a vocabulary");
  ModelCheckpoint<double> cb(o);
  FitOptions<double> f;
  f.epochs = 8;
  f.batch_size = 16;
  f.validation_split = 0.25;
  f.verbose = Verbosity::Silent;
  const History h = m.fit(x, y, f, {&cb});
  const std::vector<double> val = h.series("val_loss");
  REQUIRE(val.size() == 8);
  std::size_t best = 0;
  for (std::size_t e = 1; e < val.size(); ++e)
    if (val[e] < val[best]) best = e;
  CHECK(cb.best_epoch() == static_cast<int>(best));
  CHECK(cb.best() == val[best]);
  CHECK(val.back() < val.front());  // it learned, so there was more than one save
  CHECK(cb.saves() >= 2);
  ModelExtras extras;
  Sequential<double> loaded = load_model<double>(tmp.path, &extras);
  CHECK(extras.get("vocabulary") == "not really a vocabulary");
  // The checkpoint is the best epoch's model: its validation loss is the logged best.
  loaded.compile(LossKind::BinaryCrossentropy, Adam<double>(), {Metric::BinaryAccuracy});
  const Tensor<double> vx = x.slice(150, 200), vy = y.slice(150, 200);
  CHECK(loaded.evaluate(vx, vy).loss == Approx(val[best]).epsilon(1e-12));
}

}  // namespace test_checkpoint
