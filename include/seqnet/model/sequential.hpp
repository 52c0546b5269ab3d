#pragma once
/// \file
/// Sequential<T>: a stack of layers trained as one model (Keras' Sequential).
///
/// Storage: after build() the model owns ONE flat array of all parameter values and one of all gradients,
/// in layer order and each layer's declaration order; layers hold views into them (Layer::bind). The
/// optimizer keeps its state in flat arrays of the same length, so a step, gradient clipping and the sum
/// of per-thread gradients are single loops.
///
/// One training step on a batch of B samples (train_on_batch, and each batch of fit):
///   1. zero the gradient arrays;
///   2. split the batch into N = min(threads, B) contiguous slices; thread k gathers its slice into its own
///      time-major SeqBatch (row t*b + i = sample i at step t), runs forward (Mode::Train) through its
///      replica of the layer stack, the loss backward with scale 1/(B*S) for the WHOLE batch (S = output
///      steps, 1 without a time axis) - fused from the logits when the last layer is Dense with sigmoid
///      (binary cross-entropy) or softmax (categorical / sparse categorical cross-entropy) - and backward
///      through its layers into its own gradient array. A recurrent layer that reads the ids of the Embedding
///      in front through its table at the batch's distinct ids (Recurrent's fused embedding) does so, with
///      N > 1, from one table for the whole batch (detail::SharedDistinct): the threads compute a share of its
///      products each before the slices, and a share of its gradients' products each after them;
///   3. g = sum of the N gradient arrays (= the one-thread gradient of the mean loss);
///   4. stop here, without touching the weights, when the loss is NaN/inf;
///   5. clip g (global norm, then by value), keep a copy of the values, optimizer.step(values, g);
///      if a value became NaN/inf (a NaN/inf gradient, or an overflow), the copy is written back and the
///      step reported as failed.
///
/// Randomness: one Rng seeded by SequentialOptions::seed draws the initial weights (layer order, then
/// declaration order), the shuffling of every epoch and, per step, the seed of each slice's dropout Rng.
/// With one thread the same seed gives bit-identical weights after training.

#include "seqnet/core/error.hpp"
#include "seqnet/core/rng.hpp"
#include "seqnet/core/tensor.hpp"
#include "seqnet/core/types.hpp"
#include "seqnet/detail/finite.hpp"
#include "seqnet/detail/float_env.hpp"
#include "seqnet/detail/projection.hpp"
#include "seqnet/detail/thread_pool.hpp"
#include "seqnet/layers/dense.hpp"
#include "seqnet/layers/embedding.hpp"
#include "seqnet/layers/layer.hpp"
#include "seqnet/layers/recurrent.hpp"
#include "seqnet/losses/losses.hpp"
#include "seqnet/losses/metrics.hpp"
#include "seqnet/model/callbacks.hpp"
#include "seqnet/model/history.hpp"
#include "seqnet/model/progress.hpp"
#include "seqnet/optim/clip.hpp"
#include "seqnet/optim/optimizer.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace seqnet {

struct SequentialOptions {
  std::uint64_t seed = 0;  ///< seeds initialisation, shuffling and dropout
  int threads = 1;         ///< threads for training and inference (the batch is split between them)
  std::string name = "sequential";
  /// Training and inference flush denormal numbers to zero, as TensorFlow (and so Keras) does on the CPU
  /// (detail/float_env.hpp; docs/model.md, "Denormal numbers"). false: computed as usual, slower on Intel CPUs.
  bool flush_denormals = true;
};

struct CompileOptions {
  double global_clipnorm = 0.0;  ///< > 0: scale the whole gradient down to this global L2 norm (Keras' global_clipnorm)
  double clipvalue = 0.0;        ///< > 0: clip every gradient entry to [-clipvalue, clipvalue]
};

template <typename T>
struct FitOptions {
  int epochs = 1;
  Index batch_size = 32;
  double validation_split = 0.0;            ///< in (0, 1): the LAST fraction of the samples (Keras); 0: none
  const Tensor<T>* validation_x = nullptr;  ///< explicit validation data (not together with a split)
  const Tensor<T>* validation_y = nullptr;
  bool shuffle = true;  ///< reshuffle the training samples every epoch (seeded)
  Verbosity verbose = Verbosity::ProgressBar;
  std::ostream* out = &std::cout;  ///< where progress and messages go (nullptr: nowhere)
};

/// Loss and metrics of evaluate(), as means over the samples.
struct EvalResult {
  double loss = 0.0;
  LogValues metrics;  ///< ("accuracy", 0.81), ...
  double get(const std::string& key) const { return key == "loss" ? loss : log_value(metrics, key); }
};

/// Outcome of one optimisation step.
enum class StepStatus { Ok, NonFiniteLoss, NonFiniteGradient, NonFiniteWeights };

/// Where the training steps spent their time (wall-clock seconds, summed over the steps since the model was
/// made or since reset_step_timing()). A step has two phases: the slices (each thread's forward and
/// backward of its part of the batch, with the products over the batch's distinct ids that the threads
/// share before and after them) and the update (the sum of the threads' gradients, clipping, the
/// optimizer, the checks). With several threads, a slice that ends later than the others keeps them
/// waiting: `imbalance` sums, over the steps, the time from the first slice's end to the last's.
struct StepTiming {
  long long steps = 0;
  double slices = 0.0;       ///< the slices phase, from the start of the step to the end of its last slice
                             ///< (and of the shared products after it)
  double shared = 0.0;       ///< the part of `slices` spent on the shared products over the batch's distinct
                             ///< ids, before the slices and after them (detail::SharedDistinct; zero at 1
                             ///< thread and for models without a table read through)
  double update = 0.0;       ///< the rest of the step
  double imbalance = 0.0;    ///< last slice end - first slice end, summed over the steps
  std::vector<double> busy;  ///< per thread: time inside its own slices
};

namespace detail {

/// "8,809"
inline std::string group_thousands(long long v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

/// One row of Keras' summary table: each field cut or padded to end at its column position.
inline std::string summary_row(const std::vector<std::string>& fields, const std::vector<std::size_t>& positions) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line.back() = ' ';
    line += fields[i];
    if (line.size() > positions[i]) line.resize(positions[i]);
    line.append(positions[i] - line.size(), ' ');
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

inline std::string shape_text(const std::vector<Index>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

}  // namespace detail

template <typename T>
class Sequential {
  static_assert(std::is_floating_point<T>::value, "seqnet: the scalar type must be float or double");

 public:
  using LayerPtr = std::unique_ptr<Layer<T>>;

  explicit Sequential(SequentialOptions options = {})
      : opt_(std::move(options)), rng_(opt_.seed), pool_(std::make_unique<detail::ThreadPool>()) {
    check_threads(opt_.threads);
    workers_.resize(static_cast<std::size_t>(opt_.threads));
    pool_->resize(opt_.threads - 1);
  }
  Sequential(const Sequential&) = delete;
  Sequential& operator=(const Sequential&) = delete;
  Sequential(Sequential&&) = default;
  Sequential& operator=(Sequential&&) = default;
  ~Sequential() = default;

  // ---- assembling -----------------------------------------------------------------------------------

  /// Adds a layer with the settings of `layer` (an unbuilt copy made by clone_unbuilt(), so temporaries
  /// work: `model.add(LSTM<float>(8))`) and returns the model's own instance.
  template <class L, typename = std::enable_if_t<std::is_base_of<Layer<T>, L>::value>>
  L& add(const L& layer) {
    LayerPtr copy = layer.clone_unbuilt();
    if (!copy || !dynamic_cast<L*>(copy.get()))
      throw StateError(layer.type_name() + ": clone_unbuilt() did not return a " + layer.type_name());
    copy->set_name(layer.name());
    return static_cast<L&>(add(std::move(copy)));
  }
  /// Adds a layer, taking ownership; returns it.
  template <class L, typename = std::enable_if_t<std::is_base_of<Layer<T>, L>::value>>
  L& add(std::unique_ptr<L> layer) {
    L& ref = *layer;
    add(LayerPtr(std::move(layer)));
    return ref;
  }
  /// Adds a layer, taking ownership. A layer without a name gets Keras' automatic one ("lstm", "lstm_1",
  /// ... counted per type within this model); names must be unique.
  Layer<T>& add(LayerPtr layer) {
    if (!layer) throw InvalidArgument(opt_.name + ": add() got a null layer");
    if (built_) throw StateError(opt_.name + ": cannot add a layer after build()");
    if (layer->name().empty()) {
      const std::string base = layer->default_name();
      std::string candidate = base;
      for (int k = 1; find_layer(candidate); ++k) candidate = base + "_" + std::to_string(k);
      layer->set_name(candidate);
    } else if (find_layer(layer->name())) {
      throw InvalidArgument(opt_.name + ": a layer named '" + layer->name() + "' is already in the model");
    }
    layers_.push_back(std::move(layer));
    return *layers_.back();
  }

  /// Builds every layer on the previous layer's output, binds all parameters to the model's flat arrays
  /// and draws their initial values from the seed (layer order, declaration order).
  void build(const Shape& input) {
    if (built_) throw StateError(opt_.name + ": already built");
    if (layers_.empty()) throw StateError(opt_.name + ": build() needs at least one layer; add() some first");
    Shape s = input;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      try {
        s = layers_[i]->build(s);
      } catch (const ShapeError& e) {
        throw ShapeError(opt_.name + ": layer " + std::to_string(i) + " (" + layers_[i]->type_name() + " '" +
                         layers_[i]->name() + "') does not fit its input " + to_string(s) + ": " + e.what());
      }
    }
    Index total = 0;
    for (const auto& l : layers_) total += l->num_params();
    values_.assign(static_cast<std::size_t>(total), T(0));
    grads_.assign(static_cast<std::size_t>(total), T(0));
    Index off = 0;
    for (auto& l : layers_) {
      l->bind(values_.data() + off, grads_.data() + off, false);
      off += l->num_params();
    }
    for (auto& l : layers_) l->initialize(rng_);
    layers_.front()->set_input_grad(false);
    input_shape_ = input;
    output_shape_ = s;
    built_ = true;
    link_fused_embeddings(layers_);
    build_replicas();
  }

  // ---- inspecting -----------------------------------------------------------------------------------

  bool built() const { return built_; }
  bool compiled() const { return optimizer_ != nullptr; }
  const std::string& name() const { return opt_.name; }
  std::uint64_t seed() const { return opt_.seed; }
  int threads() const { return opt_.threads; }
  bool flush_denormals() const { return opt_.flush_denormals; }
  /// Whether training and inference flush denormal numbers to zero (SequentialOptions::flush_denormals).
  void set_flush_denormals(bool on) { opt_.flush_denormals = on; }
  /// The model's random generator (initialisation, shuffling, dropout seeds).
  Rng& rng() { return rng_; }

  const std::vector<LayerPtr>& layers() const { return layers_; }
  std::size_t num_layers() const { return layers_.size(); }
  Layer<T>& layer(std::size_t i) { return *layers_.at(i); }
  const Layer<T>& layer(std::size_t i) const { return *layers_.at(i); }
  /// The layer named `n` (throws InvalidArgument if there is none).
  Layer<T>& layer(const std::string& n) {
    Layer<T>* l = find_layer(n);
    if (!l) throw InvalidArgument(opt_.name + ": no layer named '" + n + "'");
    return *l;
  }

  const Shape& input_shape() const {
    require_built("input_shape()");
    return input_shape_;
  }
  const Shape& output_shape() const {
    require_built("output_shape()");
    return output_shape_;
  }
  Index num_params() const { return static_cast<Index>(values_.size()); }
  /// The flat value array (num_params() values, layer order then declaration order, each tensor column-major).
  T* values() { return values_.data(); }
  const T* values() const { return values_.data(); }
  /// The flat gradient array of the last step (same layout as values()).
  T* gradients() { return grads_.data(); }
  const T* gradients() const { return grads_.data(); }
  /// A copy of the flat value array.
  std::vector<T> get_weights() const { return values_; }
  /// Overwrites the flat value array (the size must be num_params()).
  void set_weights(const std::vector<T>& w) {
    require_built("set_weights()");
    if (w.size() != values_.size())
      throw ShapeError(opt_.name + ": set_weights() got " + std::to_string(w.size()) + " values, the model has " +
                       std::to_string(values_.size()));
    std::copy(w.begin(), w.end(), values_.begin());
  }

  /// Keras' model.summary() table (TF 2 layout, 65 columns, trailing spaces removed).
  std::string summary() const {
    require_built("summary()");
    const std::vector<std::size_t> pos{29, 55, 65};
    const std::string rule(65, '_'), double_rule(65, '=');
    std::string s = "Model: \"" + opt_.name + "\"\n" + rule + "\n";
    s += detail::summary_row({"Layer (type)", "Output Shape", "Param #"}, pos) + "\n" + double_rule + "\n";
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const Layer<T>& l = *layers_[i];
      s += detail::summary_row(
               {l.name() + " (" + l.type_name() + ")", to_string(l.output_shape()), std::to_string(l.num_params())},
               pos) +
           "\n";
      s += (i + 1 == layers_.size() ? double_rule : rule) + "\n";
    }
    const std::string total = detail::group_thousands(num_params());
    s += "Total params: " + total + "\nTrainable params: " + total + "\nNon-trainable params: 0\n" + rule + "\n";
    return s;
  }

  // ---- threads --------------------------------------------------------------------------------------

  /// Number of threads a batch is split over (>= 1). With N > 1 the model keeps N - 1 replicas of its
  /// layers that share the value array and own their gradient arrays.
  void set_threads(int n) {
    check_threads(n);
    opt_.threads = n;
    pool_->resize(n - 1);
    workers_.resize(static_cast<std::size_t>(n));
    if (built_) build_replicas();
  }

  // ---- training ------------------------------------------------------------------------------------

  /// Sets the loss, a copy of the optimizer (bound to num_params()), the metrics and gradient clipping.
  void compile(LossKind loss, const Optimizer<T>& optimizer, std::vector<Metric> metrics = {},
               CompileOptions options = {}) {
    require_built("compile()");
    if (options.global_clipnorm < 0 || !std::isfinite(options.global_clipnorm))
      throw InvalidArgument(opt_.name + ": global_clipnorm must be finite and >= 0 (0 = off), got " +
                            std::to_string(options.global_clipnorm));
    if (options.clipvalue < 0 || !std::isfinite(options.clipvalue))
      throw InvalidArgument(opt_.name + ": clipvalue must be finite and >= 0 (0 = off), got " +
                            std::to_string(options.clipvalue));
    if (loss == LossKind::SparseCategoricalCrossentropy && output_shape_.features < 2)
      throw ShapeError(opt_.name + ": sparse_categorical_crossentropy needs at least 2 outputs, the model has " +
                       std::to_string(output_shape_.features));
    std::unique_ptr<Optimizer<T>> opt = optimizer.clone();
    opt->bind(num_params());
    optimizer_ = std::move(opt);
    loss_ = loss;
    metrics_ = std::move(metrics);
    compile_opt_ = options;
    metric_names_.clear();
    for (Metric m : metrics_)
      metric_names_.push_back(metrics_.size() == 1 ? std::string("accuracy") : std::string(to_string(m)));
    fused_ = false;
    if (const auto* d = dynamic_cast<const Dense<T>*>(layers_.back().get())) {
      fused_ = (d->activation() == Activation::Sigmoid && loss == LossKind::BinaryCrossentropy) ||
               (d->activation() == Activation::Softmax &&
                (loss == LossKind::CategoricalCrossentropy || loss == LossKind::SparseCategoricalCrossentropy));
    }
  }

  LossKind loss() const {
    require_compiled("loss()");
    return loss_;
  }
  const std::vector<Metric>& metrics() const { return metrics_; }
  /// Names of the metrics in logs ("accuracy" when there is one metric, Keras' metric names otherwise).
  const std::vector<std::string>& metric_names() const { return metric_names_; }
  /// Whether the loss is computed from the last Dense layer's logits (sigmoid/softmax + cross-entropy).
  bool fused_loss() const { return fused_; }
  Optimizer<T>& optimizer() {
    require_compiled("optimizer()");
    return *optimizer_;
  }
  const CompileOptions& compile_options() const { return compile_opt_; }

  /// Forward and backward on (x, y) without updating the weights: leaves the gradient of the MEAN loss in
  /// gradients() and returns the mean loss.
  double compute_gradients(const Tensor<T>& x, const Tensor<T>& y) {
    require_compiled("compute_gradients()");
    const Index n = check_data(x, y, "compute_gradients()");
    const std::vector<Index> idx = iota(0, n);
    draw_slice_seeds();
    return gradients_on(x, y, idx.data(), n).first / static_cast<double>(n * output_shape_.rows_per_sample());
  }

  /// One optimisation step on (x, y) as one batch; returns the mean loss of the batch before the step.
  /// A NaN/inf loss returns that value and leaves the weights untouched (no exception; see step_status()).
  double train_on_batch(const Tensor<T>& x, const Tensor<T>& y) {
    require_compiled("train_on_batch()");
    const Index n = check_data(x, y, "train_on_batch()");
    const std::vector<Index> idx = iota(0, n);
    const double loss = train_step(x, y, idx.data(), n, nullptr);
    return loss / static_cast<double>(n * output_shape_.rows_per_sample());
  }
  /// What the last train_on_batch / fit step did.
  StepStatus step_status() const { return last_status_; }
  /// Time spent by the training steps (train_on_batch and fit) since the model was made or
  /// reset_step_timing().
  const StepTiming& step_timing() const { return timing_; }
  void reset_step_timing() { timing_ = StepTiming{}; }

  /// Trains for opt.epochs epochs (see the header comment and docs/model.md). Never throws for a
  /// diverging loss: training stops, the model keeps its last finite weights and History says why.
  History fit(const Tensor<T>& x, const Tensor<T>& y, const FitOptions<T>& opt = {},
              const std::vector<Callback<T>*>& callbacks = {}) {
    require_compiled("fit()");
    if (opt.epochs <= 0)
      throw InvalidArgument(opt_.name + ": fit(): epochs must be positive, got " + std::to_string(opt.epochs));
    if (opt.batch_size <= 0)
      throw InvalidArgument(opt_.name + ": fit(): batch_size must be positive, got " + std::to_string(opt.batch_size));
    if (opt.validation_split != 0.0 && !(opt.validation_split > 0.0 && opt.validation_split < 1.0))
      throw InvalidArgument(opt_.name + ": fit(): validation_split must be in (0, 1) (or 0 for none), got " +
                            std::to_string(opt.validation_split));
    if ((opt.validation_x == nullptr) != (opt.validation_y == nullptr))
      throw InvalidArgument(opt_.name + ": fit(): validation_x and validation_y must be given together");
    if (opt.validation_x && opt.validation_split > 0.0)
      throw InvalidArgument(opt_.name + ": fit(): give validation data or a validation_split, not both");
    for (const Callback<T>* cb : callbacks)
      if (!cb) throw InvalidArgument(opt_.name + ": fit(): null callback");
    const Index n = check_data(x, y, "fit()");
    Index n_train = n;
    const Tensor<T>* vx = opt.validation_x;
    const Tensor<T>* vy = opt.validation_y;
    std::vector<Index> val_idx;
    if (opt.validation_split > 0.0) {
      n_train = static_cast<Index>(std::floor(static_cast<double>(n) * (1.0 - opt.validation_split)));
      if (n_train <= 0 || n_train >= n)
        throw InvalidArgument(opt_.name + ": fit(): validation_split " + std::to_string(opt.validation_split) + " of " +
                              std::to_string(n) + " samples leaves " +
                              (n_train <= 0 ? "no training" : "no validation") + " samples");
      vx = &x;
      vy = &y;
      val_idx = iota(n_train, n);
    } else if (vx) {
      val_idx = iota(0, check_data(*vx, *vy, "fit() validation data"));
    }
    const bool validate = vx != nullptr;
    std::ostream* out = opt.out;
    const Verbosity verbose = out ? opt.verbose : Verbosity::Silent;

    History history;
    std::vector<Index> order = iota(0, n_train);
    const Index steps = (n_train + opt.batch_size - 1) / opt.batch_size;
    const std::size_t nm = metrics_.size();
    for (Callback<T>* cb : callbacks) cb->on_train_begin(*this);
    using Clock = std::chrono::steady_clock;
    for (int epoch = 0; epoch < opt.epochs; ++epoch) {
      if (opt.shuffle)
        for (Index i = n_train - 1; i > 0; --i)
          std::swap(order[static_cast<std::size_t>(i)],
                    order[static_cast<std::size_t>(rng_.below(static_cast<std::uint64_t>(i + 1)))]);
      if (verbose != Verbosity::Silent) *out << "Epoch " << epoch + 1 << "/" << opt.epochs << "\n";
      ProgressBar bar(out ? *out : std::cout, steps, verbose);
      const auto t0 = Clock::now();
      double loss_sum = 0.0;
      std::vector<double> metric_sums(nm, 0.0);
      Index seen = 0;
      bool failed = false;
      for (Index s = 0; s < steps; ++s) {
        const Index b0 = s * opt.batch_size, b = std::min(opt.batch_size, n_train - b0);
        std::vector<double> batch_metrics(nm, 0.0);
        const double l = train_step(x, y, order.data() + b0, b, &batch_metrics);
        if (last_status_ != StepStatus::Ok) {
          record_fault(history, epoch, static_cast<int>(s),
                       l / static_cast<double>(b * output_shape_.rows_per_sample()));
          if (out) {
            if (verbose == Verbosity::ProgressBar) *out << "\n";
            *out << history.stop_reason << "\n";
          }
          failed = true;
          break;
        }
        loss_sum += l;
        for (std::size_t m = 0; m < nm; ++m) metric_sums[m] += batch_metrics[m];
        seen += b;
        if (verbose == Verbosity::ProgressBar)
          bar.update(s + 1, running_log(loss_sum, metric_sums, seen), seconds_since(t0));
      }
      if (failed) break;
      EpochLog log;
      log.epoch = epoch;
      log.values = running_log(loss_sum, metric_sums, seen);
      if (validate) {
        const EvalResult r = evaluate_indices(*vx, *vy, val_idx.data(), static_cast<Index>(val_idx.size()), 256);
        log.values.emplace_back("val_loss", r.loss);
        for (const auto& kv : r.metrics) log.values.emplace_back("val_" + kv.first, kv.second);
      }
      log.seconds = seconds_since(t0);
      bar.finish(log.values, log.seconds);
      history.epochs.push_back(log);
      bool stop = false;
      for (Callback<T>* cb : callbacks) stop = cb->on_epoch_end(epoch, log, *this) || stop;
      if (stop) {
        history.reason = StopReason::Callback;
        history.stopped_epoch = epoch;
        history.stop_reason = "Epoch " + std::to_string(epoch + 1) + ": early stopping (requested by a callback)";
        if (verbose != Verbosity::Silent) *out << history.stop_reason << "\n";
        break;
      }
    }
    for (Callback<T>* cb : callbacks) cb->on_train_end(*this, history);
    return history;
  }

  // ---- inference ------------------------------------------------------------------------------------

  /// Mean loss and metrics over (x, y), in Mode::Eval, batch by batch.
  EvalResult evaluate(const Tensor<T>& x, const Tensor<T>& y, Index batch_size = 256) {
    require_compiled("evaluate()");
    if (batch_size <= 0)
      throw InvalidArgument(opt_.name + ": evaluate(): batch_size must be positive, got " + std::to_string(batch_size));
    const Index n = check_data(x, y, "evaluate()");
    const std::vector<Index> idx = iota(0, n);
    return evaluate_indices(x, y, idx.data(), n, batch_size);
  }

  /// The model's outputs for x, in Mode::Eval: (samples, outputs), or (samples, steps, outputs) for a
  /// sequence output.
  Tensor<T> predict(const Tensor<T>& x, Index batch_size = 256) {
    require_built("predict()");
    if (batch_size <= 0)
      throw InvalidArgument(opt_.name + ": predict(): batch_size must be positive, got " + std::to_string(batch_size));
    const Index n = check_x(x, "predict()");
    std::vector<Index> shape{n};
    if (output_shape_.is_sequence()) shape.push_back(output_shape_.steps);
    shape.push_back(output_shape_.features);
    Tensor<T> out(shape);
    const std::vector<Index> idx = iota(0, n);
    const detail::ScopedFloatEnv env(compute_env());
    for (Index b0 = 0; b0 < n; b0 += batch_size) {
      const Index b = std::min(batch_size, n - b0);
      run_slices(b, [&](int k, Index s, Index e) {
        const SeqBatch<T>& h = forward_eval(k, x, idx.data() + b0 + s, e - s);
        scatter_output(h, b0 + s, out);
      });
    }
    return out;
  }

 private:
  struct Worker {
    std::vector<char> skipped;  // layers skipped in the last forward (Embeddings read through, fused)
    SeqBatch<T> x;
    Matrix<T> y;
    SeqBatch<T> dy;
    Rng rng;
    double loss = 0.0;
    std::vector<double> metric_sums;
    std::chrono::steady_clock::time_point begin, end;  // of the last slice
  };
  struct Replica {
    std::vector<LayerPtr> layers;
    std::vector<T> grads;
  };
  struct SharedTable {
    std::unique_ptr<detail::SharedDistinct<T>> table;
    std::vector<Recurrent<T>*> members;  // the layer in stack k
  };

  static void check_threads(int n) {
    if (n < 1) throw InvalidArgument("Sequential: threads must be >= 1, got " + std::to_string(n));
  }
  void require_built(const char* what) const {
    if (!built_) throw StateError(opt_.name + ": " + what + " needs a built model; call build(input_shape) first");
  }
  void require_compiled(const char* what) const {
    require_built(what);
    if (!optimizer_)
      throw StateError(opt_.name + ": " + what + " needs a compiled model; call compile(loss, optimizer) first");
  }
  Layer<T>* find_layer(const std::string& n) const {
    for (const auto& l : layers_)
      if (l->name() == n) return l.get();
    return nullptr;
  }
  static std::vector<Index> iota(Index begin, Index end) {
    std::vector<Index> v(static_cast<std::size_t>(end - begin));
    std::iota(v.begin(), v.end(), begin);
    return v;
  }
  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  // Replica k (1-based) shares values_ and owns its gradient array; replica 0 is the model itself.
  void build_replicas() {
    replicas_.clear();
    for (int k = 1; k < opt_.threads; ++k) {
      Replica r;
      r.grads.assign(values_.size(), T(0));
      Shape s = input_shape_;
      Index off = 0;
      for (const auto& l : layers_) {
        LayerPtr c = l->clone_unbuilt();
        c->set_name(l->name());
        s = c->build(s);
        c->bind(values_.data() + off, r.grads.data() + off, false);
        off += c->num_params();
        r.layers.push_back(std::move(c));
      }
      r.layers.front()->set_input_grad(false);
      link_fused_embeddings(r.layers);
      replicas_.push_back(std::move(r));
    }
    share_distinct_tables();
  }
  // Appends the recurrent layers of stack k that read an Embedding's table (in stack order) to `out`.
  void table_readers(int k, std::vector<Recurrent<T>*>& out) {
    auto& L = stack(k);
    for (std::size_t i = 0; i + 1 < L.size(); ++i) {
      auto* rec = dynamic_cast<EmbeddingReader<T>*>(L[i + 1].get());
      if (rec && rec->fused_embedding() == L[i].get()) rec->readers(out);
    }
  }
  // With several threads, one detail::SharedDistinct per recurrent layer that reads an Embedding's table,
  // attached to that layer in every replica (see slice_gradients).
  void share_distinct_tables() {
    if (opt_.threads < 2 && shared_.empty()) return;  // nothing attached
    shared_.clear();
    std::vector<Recurrent<T>*> first;
    table_readers(0, first);
    for (Recurrent<T>* r : first) r->share_distinct(nullptr, 0);
    if (opt_.threads < 2) return;
    for (std::size_t i = 0; i < first.size(); ++i)
      shared_.push_back({std::make_unique<detail::SharedDistinct<T>>(), {}});
    refresh_table_readers();
    for (auto& t : shared_)
      for (int k = 0; k < opt_.threads; ++k) t.members[static_cast<std::size_t>(k)]->share_distinct(t.table.get(), k);
  }
  // shared_[i].members[k] := the i-th table reader of stack k, its parameters bound to the current storage
  // (Bidirectional binds its directions when it runs; the shared products run before it does).
  void refresh_table_readers() {
    for (auto& t : shared_) t.members.clear();
    for (int k = 0; k < opt_.threads; ++k) {
      readers_.clear();
      table_readers(k, readers_);
      for (std::size_t i = 0; i < readers_.size(); ++i) shared_[i].members.push_back(readers_[i]);
    }
  }
  // An Embedding (without mask_zero) followed by a recurrent layer: the recurrent layer may read the ids
  // through the embedding table (Recurrent::set_fused_embedding), so x = E[ids] is never built.
  static void link_fused_embeddings(std::vector<LayerPtr>& L) {
    for (std::size_t i = 0; i + 1 < L.size(); ++i) {
      auto* emb = dynamic_cast<Embedding<T>*>(L[i].get());
      auto* rec = dynamic_cast<EmbeddingReader<T>*>(L[i + 1].get());
      if (emb && rec && !emb->mask_zero()) rec->set_fused_embedding(emb);
    }
  }
  // Runs the layers of a stack forward; layer i is skipped (and marked) when the next layer reads its ids
  // through it in this mode and at this batch size.
  static const SeqBatch<T>& forward_stack(std::vector<LayerPtr>& L, const SeqBatch<T>& x, Mode mode, Rng* rng,
                                          std::vector<char>& skipped) {
    skipped.assign(L.size(), 0);
    const SeqBatch<T>* h = &x;
    for (std::size_t i = 0; i < L.size(); ++i) {
      if (i + 1 < L.size()) {
        const auto* rec = dynamic_cast<const EmbeddingReader<T>*>(L[i + 1].get());
        if (rec && rec->fused_embedding() == L[i].get() && rec->fuses_embedding(mode, *h)) {
          skipped[i] = 1;
          continue;
        }
      }
      h = &L[i]->forward(*h, mode, rng);
    }
    return *h;
  }
  std::vector<LayerPtr>& stack(int k) { return k == 0 ? layers_ : replicas_[static_cast<std::size_t>(k - 1)].layers; }
  T* grad_array(int k) { return k == 0 ? grads_.data() : replicas_[static_cast<std::size_t>(k - 1)].grads.data(); }

  // ---- data checks ----------------------------------------------------------------------------------

  std::string expected_x_text() const {
    const Shape& s = input_shape_;
    std::vector<Index> d;
    if (s.is_sequence()) d.push_back(s.steps);
    if (s.encoding == Encoding::Dense) d.push_back(s.features);
    std::string t = "(samples";
    for (Index v : d) t += ", " + std::to_string(v);
    t += ")";
    if (s.encoding == Encoding::Ids) t += " of token ids";
    if (s.encoding == Encoding::OneHot) t += " of token ids (one-hot depth " + std::to_string(s.features) + ")";
    return t;
  }

  // Checks x against the input shape (rank, extents, finite values, ids); returns the sample count.
  Index check_x(const Tensor<T>& x, const char* what) const {
    const Shape& s = input_shape_;
    Index want[2] = {0, 0};  // the extents after the samples: [steps,] [features]
    Index nw = 0;
    if (s.is_sequence()) want[nw++] = s.steps;
    if (s.encoding == Encoding::Dense) want[nw++] = s.features;
    bool ok = x.rank() == nw + 1;
    for (Index i = 0; ok && i < nw; ++i) ok = x.dim(i + 1) == want[i];
    if (!ok && nw == 0 && x.rank() == 2 && x.dim(1) == 1) ok = true;  // (samples, 1) ids
    if (!ok)
      throw ShapeError(opt_.name + ": " + what + ": x has shape " + x.shape_string() + ", the model expects " +
                       expected_x_text());
    const Index n = x.dim(0);
    if (n <= 0) throw ShapeError(opt_.name + ": " + what + ": x holds no samples");
    const Index per = s.rows_per_sample() * s.columns();
    const T* v = x.data();
    if (s.encoding == Encoding::Dense) {
      if (!detail::all_finite(v, x.size())) {
        for (Index i = 0; i < x.size(); ++i)
          if (!std::isfinite(v[i]))
            throw InvalidArgument(opt_.name + ": " + what + ": x has a non-finite value (" +
                                  std::to_string(static_cast<double>(v[i])) + ") at sample " + std::to_string(i / per) +
                                  ", step " + std::to_string((i % per) / s.columns()) + ", feature " +
                                  std::to_string(i % s.columns()));
      }
      return n;
    }
    Index depth = -1;
    if (s.encoding == Encoding::OneHot)
      depth = s.features;
    else if (const auto* emb = dynamic_cast<const Embedding<T>*>(layers_.front().get()))
      depth = emb->input_dim();
    // One branch-free (vectorised) pass first; the loop below only runs to name the first bad id.
    const T limit = depth > 0 && depth < (Index(1) << 24) ? static_cast<T>(depth) : static_cast<T>(Index(1) << 24);
    if (detail::all_ids_below(v, x.size(), limit)) return n;
    for (Index i = 0; i < x.size(); ++i) {
      const T id = v[i];
      if (!(id >= T(0)) || id != std::floor(id) || (depth > 0 && !(id < static_cast<T>(depth)))) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(id));
        throw InvalidArgument(opt_.name + ": " + what + ": token id " + buf + " at sample " + std::to_string(i / per) +
                              ", step " + std::to_string(i % per) + " is not an integer in [0, " +
                              (depth > 0 ? std::to_string(depth) : std::string("input_dim")) + ")");
      }
    }
    return n;
  }

  Index label_columns() const { return loss_ == LossKind::SparseCategoricalCrossentropy ? 1 : output_shape_.features; }

  // Checks x, and y against the output (samples, [steps,] outputs or 1 class id); returns the sample count.
  Index check_data(const Tensor<T>& x, const Tensor<T>& y, const char* what) const {
    const Index n = check_x(x, what);
    const Index S = output_shape_.rows_per_sample(), C = label_columns();
    // y is (n, [steps,] C), or (n, [steps]) when C is 1.
    const Index lead = output_shape_.is_sequence() ? 2 : 1, r = y.rank();
    const bool ok = y.dim(0) == n && (lead == 1 || y.dim(1) == output_shape_.steps) &&
                    ((r == lead + 1 && y.dim(lead) == C) || (r == lead && C == 1));
    if (!ok) {
      std::vector<Index> want{n};
      if (output_shape_.is_sequence()) want.push_back(output_shape_.steps);
      want.push_back(C);
      if (y.rank() >= 1 && y.dim(0) != n)
        throw ShapeError(opt_.name + ": " + what + ": y has " + std::to_string(y.dim(0)) + " samples, x has " +
                         std::to_string(n));
      throw ShapeError(opt_.name + ": " + what + ": y has shape " + y.shape_string() + ", the model's output needs " +
                       detail::shape_text(want) +
                       (loss_ == LossKind::SparseCategoricalCrossentropy ? " (one class id per sample)" : "") +
                       " for " + to_string(loss_) + " with " + std::to_string(output_shape_.features) + " outputs");
    }
    // Labels as one row per output row, for the loss's own checks (finite, class ids in range); the message
    // prefix is only built for a batch that fails them.
    const Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> all(y.data(), n * S, C);
    if (detail::first_bad_label(loss_, all, output_shape_.features).first >= 0)
      check_labels(loss_, all, n * S, output_shape_.features, opt_.name + ": " + what + ": y: ", S);
    return n;
  }

  // ---- batch gather / scatter -----------------------------------------------------------------------

  // Rows of samples idx[0..b) into the time-major batch: out(t*b + i, f) = x[idx[i], t, f].
  static void gather(const T* src, Index rows_per_sample, Index cols, const Index* idx, Index b, Matrix<T>& out) {
    const Index R = rows_per_sample * b, per = rows_per_sample * cols;
    out.resize(R, cols);
    T* dst = out.data();
    if (cols == 1) {
      for (Index i = 0; i < b; ++i) {
        const T* s = src + idx[i] * per;
        for (Index t = 0; t < rows_per_sample; ++t) dst[t * b + i] = s[t];
      }
      return;
    }
    for (Index i = 0; i < b; ++i) {
      const T* s = src + idx[i] * per;
      for (Index t = 0; t < rows_per_sample; ++t) {
        T* d = dst + t * b + i;
        for (Index f = 0; f < cols; ++f) d[f * R] = s[t * cols + f];
      }
    }
  }

  void gather_x(const Tensor<T>& x, const Index* idx, Index b, SeqBatch<T>& out) const {
    out.batch = b;
    out.shape = input_shape_;
    out.mask.clear();
    gather(x.data(), input_shape_.rows_per_sample(), input_shape_.columns(), idx, b, out.values);
  }
  void gather_y(const Tensor<T>& y, const Index* idx, Index b, Matrix<T>& out) const {
    gather(y.data(), output_shape_.rows_per_sample(), label_columns(), idx, b, out);
  }
  // Output rows of a slice into samples [first, first + b) of a (samples, [steps,] outputs) tensor.
  void scatter_output(const SeqBatch<T>& h, Index first, Tensor<T>& out) const {
    const Index b = h.batch, S = output_shape_.rows_per_sample(), U = output_shape_.features, R = S * b;
    const T* src = h.values.data();
    T* dst = out.data() + first * S * U;
    for (Index i = 0; i < b; ++i)
      for (Index t = 0; t < S; ++t)
        for (Index u = 0; u < U; ++u) dst[(i * S + t) * U + u] = src[u * R + t * b + i];
  }

  // ---- the step -------------------------------------------------------------------------------------

  // The floating-point control word of the model's computations: the caller's, with denormals flushed to
  // zero unless the options say otherwise. The pool's workers take it from the caller of each run.
  detail::FloatEnv compute_env() const {
    const detail::FloatEnv env = detail::float_env();
    return opt_.flush_denormals ? detail::flush_denormals(env) : env;
  }

  // Splits b samples into contiguous slices, one per thread, and runs fn(k, begin, end) for each.
  template <class Fn>
  void run_slices(Index b, Fn&& fn) {
    const int n = static_cast<int>(std::min<Index>(opt_.threads, b));
    pool_->run(n, [&](int k) {
      const Index s = b * k / n, e = b * (k + 1) / n;
      fn(k, s, e);
    });
  }

  // One dropout seed per step, drawn from the model's Rng; slice k seeds its own stream from it when it
  // starts, on its own thread (seeding a generator costs about half a microsecond, which the threads would
  // otherwise wait for one after another).
  void draw_slice_seeds() { slice_seed_ = rng_.split(); }

  // Forward + loss + backward of samples idx[0..b) on replica k; the loss gradient is scaled by `scale`.
  void slice_train(int k, const Tensor<T>& x, const Tensor<T>& y, const Index* idx, Index b, T scale) {
    auto& L = stack(k);
    Worker& w = workers_[static_cast<std::size_t>(k)];
    w.begin = std::chrono::steady_clock::now();
    w.rng.seed(slice_seed_ + 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(k));
    std::fill(grad_array(k), grad_array(k) + values_.size(), T(0));
    gather_x(x, idx, b, w.x);
    gather_y(y, idx, b, w.y);
    const SeqBatch<T>* h = &forward_stack(L, w.x, Mode::Train, &w.rng, w.skipped);
    w.dy.batch = b;
    w.dy.shape = output_shape_;
    w.dy.mask.clear();
    Dense<T>* last = fused_ ? static_cast<Dense<T>*>(L.back().get()) : nullptr;
    w.loss = last ? loss_from_logits(loss_, last->logits(), w.y, scale, &w.dy.values)
                  : loss_forward_backward(loss_, h->values, w.y, scale, &w.dy.values);
    w.metric_sums.assign(metrics_.size(), 0.0);
    for (std::size_t m = 0; m < metrics_.size(); ++m) w.metric_sums[m] = metric_sum(metrics_[m], h->values, w.y);
    const SeqBatch<T>* g = last ? &last->backward_logits(w.dy) : &L.back()->backward(w.dy);
    for (std::size_t i = L.size() - 1; i-- > 0;)
      if (!w.skipped[i]) g = &L[i]->backward(*g);
    w.end = std::chrono::steady_clock::now();
  }

  // Forward and backward of the batch on the replicas; the gradients stay in the replicas' arrays (see
  // sum_gradients). Returns the number of slices and (loss sum, metric sums).
  std::pair<int, std::pair<double, std::vector<double>>> slice_gradients(const Tensor<T>& x, const Tensor<T>& y,
                                                                         const Index* idx, Index b) {
    const T scale = static_cast<T>(1.0 / static_cast<double>(b * output_shape_.rows_per_sample()));
    const int n = static_cast<int>(std::min<Index>(opt_.threads, b));
    // The products over the batch's distinct ids of a table read through (detail::SharedDistinct): a share of
    // them on each thread before the slices and after, instead of each slice's over its own distinct ids.
    struct Deactivate {
      std::vector<SharedTable>& tables;
      ~Deactivate() {
        for (auto& t : tables) t.table->active = false;
      }
    } deactivate{shared_};
    bool shared = false;
    if (n > 1 && input_shape_.encoding == Encoding::Ids &&
        std::any_of(shared_.begin(), shared_.end(), [](const SharedTable& t) { return t.members[0]->may_share(); })) {
      refresh_table_readers();
      for (auto& t : shared_)
        shared = t.members[0]->begin_shared_batch(x.data(), idx, b, input_shape_.steps, (b + n - 1) / n, n) || shared;
    }
    shared_seconds_ = 0.0;
    const auto pieces = [&](bool forward) {
      const auto start = std::chrono::steady_clock::now();
      pool_->run(n, [&](int k) {
        for (auto& t : shared_) {
          if (!t.table->active) continue;
          Recurrent<T>* r = t.members[static_cast<std::size_t>(k)];
          if (forward)
            r->shared_forward_piece(k, n);
          else
            r->shared_backward_piece(k, n);
        }
      });
      shared_seconds_ += seconds_since(start);
    };
    if (shared) pieces(true);
    run_slices(b, [&](int k, Index s, Index e) { slice_train(k, x, y, idx + s, e - s, scale); });
    if (shared) pieces(false);
    std::pair<double, std::vector<double>> r{0.0, std::vector<double>(metrics_.size(), 0.0)};
    for (int k = 0; k < n; ++k) {
      const Worker& w = workers_[static_cast<std::size_t>(k)];
      r.first += w.loss;
      for (std::size_t m = 0; m < metrics_.size(); ++m) r.second[m] += w.metric_sums[m];
    }
    return {n, r};
  }

  // Piece k of n of the flat parameter range, cut at multiples of 16 values (whole cache lines of floats).
  std::pair<Index, Index> param_piece(int k, int n) const {
    const Index np = num_params(), lines = (np + 15) / 16;
    return {std::min(np, lines * k / n * 16), std::min(np, lines * (k + 1) / n * 16)};
  }

  // grads_[lo, hi) += the other `slices - 1` replicas' gradients there.
  void sum_gradients(int slices, Index lo, Index hi) {
    Eigen::Map<Vector<T>> g(grads_.data() + lo, hi - lo);
    for (int k = 1; k < slices; ++k) g += Eigen::Map<const Vector<T>>(grad_array(k) + lo, hi - lo);
  }

  // Runs fn(k, lo, hi) for pieces k = 0 .. n-1 of the parameters (param_piece), one per thread; models with
  // fewer than 1,024 parameters per thread use fewer pieces.
  template <class Fn>
  void run_param_pieces(Fn&& fn) {
    const int n = static_cast<int>(std::max<Index>(1, std::min<Index>(opt_.threads, num_params() / 1024)));
    pool_->run(n, [&](int k) {
      const auto piece = param_piece(k, n);
      fn(k, piece.first, piece.second);
    });
  }

  // grads_ := the sum of the `slices` replicas' gradients, one piece of the parameters per thread.
  void sum_all_gradients(int slices) {
    if (slices > 1) run_param_pieces([&](int, Index lo, Index hi) { sum_gradients(slices, lo, hi); });
  }

  // Gradient of the batch (summed over threads into grads_); returns (loss sum, metric sums).
  std::pair<double, std::vector<double>> gradients_on(const Tensor<T>& x, const Tensor<T>& y, const Index* idx,
                                                      Index b) {
    const detail::ScopedFloatEnv env(compute_env());
    auto r = slice_gradients(x, y, idx, b);
    sum_all_gradients(r.first);
    return r.second;
  }

  // A full step; returns the loss SUM of the batch and sets last_status_.
  double train_step(const Tensor<T>& x, const Tensor<T>& y, const Index* idx, Index b,
                    std::vector<double>* metric_sums) {
    const detail::ScopedFloatEnv env(compute_env());
    const auto start = std::chrono::steady_clock::now();
    draw_slice_seeds();
    const auto sr = slice_gradients(x, y, idx, b);
    const auto update_start = record_slice_timing(start, sr.first);
    if (metric_sums) *metric_sums = sr.second.second;
    const double loss = sr.second.first;
    last_status_ = update_values(sr.first, loss);
    timing_.update += seconds_since(update_start);
    return loss;
  }

  // The update phase of a step whose `slices` replicas hold their gradients and whose loss sum is `loss`;
  // returns what it did. Everything here is element-wise over the flat parameters and runs on the threads,
  // one piece each: the sum of the replicas' gradients, clipping by value, the snapshot for undoing the step,
  // the optimizer's update and the finiteness check of the new values. Only clipping by global norm needs
  // the whole summed gradient first.
  StepStatus update_values(int slices, double loss) {
    if (!std::isfinite(loss)) return StepStatus::NonFiniteLoss;
    const Index np = num_params();
    const bool by_norm = compile_opt_.global_clipnorm > 0;
    if (by_norm) {
      // A NaN/inf gradient with a finite loss is rare; it is caught by the check of the values after the
      // step, or here, where clipping by norm needs the norm anyway.
      sum_all_gradients(slices);
      if (!std::isfinite(global_norm(grads_.data(), np))) return StepStatus::NonFiniteGradient;
      clip_by_global_norm(grads_.data(), np, compile_opt_.global_clipnorm);
    }
    snapshot_.resize(values_.size());
    finite_.assign(static_cast<std::size_t>(opt_.threads), 1);
    optimizer_->step(values_.data(), grads_.data(), [&](const auto& update) {
      run_param_pieces([&](int k, Index lo, Index hi) {
        if (!by_norm && slices > 1) sum_gradients(slices, lo, hi);
        if (compile_opt_.clipvalue > 0) clip_by_value(grads_.data() + lo, hi - lo, compile_opt_.clipvalue);
        std::copy(values_.begin() + lo, values_.begin() + hi, snapshot_.begin() + lo);
        update(lo, hi);
        if (!detail::all_finite(values_.data() + lo, hi - lo)) finite_[static_cast<std::size_t>(k)] = 0;
      });
    });
    if (std::find(finite_.begin(), finite_.end(), 0) == finite_.end()) return StepStatus::Ok;
    std::copy(snapshot_.begin(), snapshot_.end(), values_.begin());
    return detail::all_finite(grads_.data(), np) ? StepStatus::NonFiniteWeights : StepStatus::NonFiniteGradient;
  }

  // Adds a step's slices phase (from `start`, over `slices` slices) to timing_; returns the time it ended.
  std::chrono::steady_clock::time_point record_slice_timing(std::chrono::steady_clock::time_point start, int slices) {
    const auto now = std::chrono::steady_clock::now();
    const auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    timing_.steps += 1;
    timing_.slices += secs(start, now);
    timing_.shared += shared_seconds_;
    timing_.busy.resize(static_cast<std::size_t>(opt_.threads), 0.0);
    auto first = workers_[0].end, last = workers_[0].end;
    for (int k = 0; k < slices; ++k) {
      const Worker& w = workers_[static_cast<std::size_t>(k)];
      timing_.busy[static_cast<std::size_t>(k)] += secs(w.begin, w.end);
      first = std::min(first, w.end);
      last = std::max(last, w.end);
    }
    timing_.imbalance += secs(first, last);
    return now;
  }

  void record_fault(History& h, int epoch, int batch, double mean_loss) {
    h.stopped_epoch = epoch;
    h.stopped_batch = batch;
    char buf[40];
    // printf may print a NaN with its sign bit ("-nan"); a NaN has no sign worth reporting.
    if (std::isnan(mean_loss))
      std::snprintf(buf, sizeof buf, "nan");
    else
      std::snprintf(buf, sizeof buf, "%g", mean_loss);
    const std::string at = "Epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch + 1) + ": ";
    switch (last_status_) {
      case StepStatus::NonFiniteLoss:
        h.reason = StopReason::NonFiniteLoss;
        h.stop_reason =
            at + "invalid loss " + buf + ", terminating training; the model keeps the weights from before this batch";
        break;
      case StepStatus::NonFiniteGradient:
        h.reason = StopReason::NonFiniteWeights;
        h.stop_reason = at + "non-finite gradient (loss " + buf +
                        "), terminating training; the model keeps the weights from before this batch";
        break;
      case StepStatus::NonFiniteWeights:
        h.reason = StopReason::NonFiniteWeights;
        h.stop_reason = at + "the update made a weight non-finite, terminating training; the step was undone";
        break;
      case StepStatus::Ok:
        break;
    }
  }

  LogValues running_log(double loss_sum, const std::vector<double>& metric_sums, Index seen) const {
    const double d = static_cast<double>(std::max<Index>(seen, 1) * output_shape_.rows_per_sample());
    LogValues v{{"loss", loss_sum / d}};
    for (std::size_t m = 0; m < metrics_.size(); ++m) v.emplace_back(metric_names_[m], metric_sums[m] / d);
    return v;
  }

  // ---- inference ------------------------------------------------------------------------------------

  const SeqBatch<T>& forward_eval(int k, const Tensor<T>& x, const Index* idx, Index b) {
    Worker& w = workers_[static_cast<std::size_t>(k)];
    gather_x(x, idx, b, w.x);
    return forward_stack(stack(k), w.x, Mode::Eval, nullptr, w.skipped);
  }

  EvalResult evaluate_indices(const Tensor<T>& x, const Tensor<T>& y, const Index* idx, Index n, Index batch_size) {
    const detail::ScopedFloatEnv env(compute_env());
    double loss_sum = 0.0;
    std::vector<double> metric_sums(metrics_.size(), 0.0);
    for (Index b0 = 0; b0 < n; b0 += batch_size) {
      const Index b = std::min(batch_size, n - b0);
      const int threads = static_cast<int>(std::min<Index>(opt_.threads, b));
      run_slices(b, [&](int k, Index s, Index e) {
        const SeqBatch<T>& h = forward_eval(k, x, idx + b0 + s, e - s);
        Worker& w = workers_[static_cast<std::size_t>(k)];
        gather_y(y, idx + b0 + s, e - s, w.y);
        const auto* last = fused_ ? static_cast<const Dense<T>*>(stack(k).back().get()) : nullptr;
        w.loss = last ? loss_from_logits<T>(loss_, last->logits(), w.y, T(1), nullptr)
                      : loss_forward_backward<T>(loss_, h.values, w.y, T(1), nullptr);
        w.metric_sums.assign(metrics_.size(), 0.0);
        for (std::size_t m = 0; m < metrics_.size(); ++m) w.metric_sums[m] = metric_sum(metrics_[m], h.values, w.y);
      });
      for (int k = 0; k < threads; ++k) {
        const Worker& w = workers_[static_cast<std::size_t>(k)];
        loss_sum += w.loss;
        for (std::size_t m = 0; m < metrics_.size(); ++m) metric_sums[m] += w.metric_sums[m];
      }
    }
    EvalResult r;
    const double d = static_cast<double>(n * output_shape_.rows_per_sample());
    r.loss = loss_sum / d;
    for (std::size_t m = 0; m < metrics_.size(); ++m) r.metrics.emplace_back(metric_names_[m], metric_sums[m] / d);
    return r;
  }

  SequentialOptions opt_;
  Rng rng_;
  std::unique_ptr<detail::ThreadPool> pool_;
  std::vector<LayerPtr> layers_;
  bool built_ = false;
  Shape input_shape_, output_shape_;
  std::vector<T> values_, grads_, snapshot_;
  std::vector<char> finite_;  // per parameter piece of a step: whether the new values are all finite
  std::vector<Replica> replicas_;
  std::vector<SharedTable> shared_;     // with several threads (share_distinct_tables)
  std::vector<Recurrent<T>*> readers_;  // workspace of refresh_table_readers
  StepTiming timing_;
  double shared_seconds_ = 0.0;  // the shared products' time in the last slice_gradients (StepTiming::shared)
  std::vector<Worker> workers_;
  std::uint64_t slice_seed_ = 0;  // of the current step (draw_slice_seeds)
  // compile
  std::unique_ptr<Optimizer<T>> optimizer_;
  LossKind loss_ = LossKind::BinaryCrossentropy;
  std::vector<Metric> metrics_;
  std::vector<std::string> metric_names_;
  CompileOptions compile_opt_;
  bool fused_ = false;
  StepStatus last_status_ = StepStatus::Ok;
};

}  // namespace seqnet
