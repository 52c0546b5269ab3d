#pragma once
/// \file
/// The layer contract (docs/design.md has the full text).
///
///  - build(input_shape) fixes the shapes, declares the parameters and returns the output shape. A freshly
///    built layer owns zero-filled parameter storage; bind() moves it to external contiguous storage.
///  - forward(x, mode, rng) returns a reference to the layer's own output batch, valid until the next
///    forward. In Mode::Train the layer keeps what backward needs and a pointer to x: the caller keeps x alive
///    and unchanged until backward. Mode::Eval keeps no cache.
///  - backward(dy) ADDS the parameter gradients into grad storage (zero_grad() clears them) and returns dL/dx
///    (empty when input_grad is off or the input is ids). It uses up the forward's cache (LSTM writes its gate
///    gradients over the gates): one backward per forward, as in PyTorch; a second one throws StateError.
///  - Public functions are non-virtual and check their arguments; subclasses implement the protected
///    do_* hooks.

#include "seqnet/core/config.hpp"
#include "seqnet/core/error.hpp"
#include "seqnet/core/init.hpp"
#include "seqnet/core/param.hpp"
#include "seqnet/core/rng.hpp"
#include "seqnet/core/types.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace seqnet {

template <typename T>
class Layer {
  static_assert(std::is_floating_point<T>::value, "seqnet: the scalar type must be float or double");

 public:
  using Scalar = T;

  Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  virtual ~Layer() = default;

  /// Keras' class name: "LSTM", "Dense", ...
  virtual std::string type_name() const = 0;
  /// The settings that recreate this layer (without weights); see make_layer() in io/layer_factory.hpp.
  virtual Config config() const = 0;
  /// A new, unbuilt layer with the same settings.
  virtual std::unique_ptr<Layer<T>> clone_unbuilt() const = 0;

  /// The instance name shown by summary() ("lstm", "lstm_1", ...); set by Sequential::add.
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  /// Base of Keras' automatic names ("simple_rnn" for SimpleRNN).
  virtual std::string default_name() const = 0;

  // ---- building -----------------------------------------------------------------------------------
  Shape build(const Shape& input) {
    if (input.features <= 0 || input.steps < 0)
      throw ShapeError(where() + "cannot be built for input shape " + to_string(input));
    specs_.clear();
    output_shape_ = do_build(input);
    input_shape_ = input;
    built_ = true;
    Index total = 0;
    for (const auto& s : specs_) total += s.size();
    owned_values_.assign(static_cast<std::size_t>(total), T(0));
    owned_grads_.assign(static_cast<std::size_t>(total), T(0));
    remap(owned_values_.data(), owned_grads_.data());
    return output_shape_;
  }
  bool built() const { return built_; }
  const Shape& input_shape() const {
    require_built();
    return input_shape_;
  }
  const Shape& output_shape() const {
    require_built();
    return output_shape_;
  }

  // ---- parameters ---------------------------------------------------------------------------------
  const std::vector<ParamSpec>& param_specs() const { return specs_; }
  Index num_params() const {
    Index n = 0;
    for (const auto& s : specs_) n += s.size();
    return n;
  }
  /// Points the parameters at external storage of num_params() values and gradients (in param_specs()
  /// order, each tensor column-major). With copy_values the current values are copied there first.
  void bind(T* values, T* grads, bool copy_values = true) {
    require_built();
    if (copy_values && values != values_base_) std::copy(values_base_, values_base_ + num_params(), values);
    remap(values, grads);
    owned_values_.clear();
    owned_values_.shrink_to_fit();
    owned_grads_.clear();
    owned_grads_.shrink_to_fit();
  }
  /// Draws every parameter's initial value from rng, in declaration order.
  void initialize(Rng& rng) {
    require_built();
    for (std::size_t i = 0; i < specs_.size(); ++i) seqnet::initialize(values_[i], specs_[i].init, rng);
  }
  std::vector<ParamRef<T>> params() {
    require_built();
    std::vector<ParamRef<T>> out;
    for (std::size_t i = 0; i < specs_.size(); ++i) out.push_back(ParamRef<T>{&specs_[i], values_[i], grads_[i]});
    return out;
  }
  MatrixMap<T>& param(std::size_t i) { return values_.at(i); }
  const MatrixMap<T>& param(std::size_t i) const { return values_.at(i); }
  MatrixMap<T>& grad(std::size_t i) { return grads_.at(i); }
  const MatrixMap<T>& grad(std::size_t i) const { return grads_.at(i); }
  /// The parameter named `name` (throws if there is none).
  MatrixMap<T>& param(const std::string& pname) { return values_.at(index_of(pname)); }
  MatrixMap<T>& grad(const std::string& pname) { return grads_.at(index_of(pname)); }
  void zero_grad() {
    for (auto& g : grads_) g.setZero();
  }

  /// Whether backward computes dL/dx (off for the first layer of a model: nobody needs it).
  void set_input_grad(bool on) { input_grad_ = on; }
  /// True when backward computes dL/dx: switched on, and the input (of the last forward) is real values.
  bool input_grad() const {
    return input_grad_ && input_shape_.encoding == Encoding::Dense &&
           (!cached_input_ || cached_input_->shape.encoding == Encoding::Dense);
  }

  // ---- computing ----------------------------------------------------------------------------------
  const SeqBatch<T>& forward(const SeqBatch<T>& x, Mode mode, Rng* rng = nullptr) {
    require_built();
    check_input(x);
    cached_input_ = nullptr;
    out_.batch = x.batch;
    out_.shape = output_shape_;
    do_forward(x, out_, mode, rng);
    if (mode == Mode::Train) cached_input_ = &x;
    return out_;
  }

  const SeqBatch<T>& backward(const SeqBatch<T>& dy) {
    require_built();
    if (!cached_input_)
      throw StateError(where() +
                       "backward() needs a preceding forward() in Mode::Train (one backward per forward: "
                       "backward uses up the forward's cache)");
    const Index rows = output_shape_.rows_per_sample() * out_.batch;
    if (dy.values.rows() != rows || dy.values.cols() != output_shape_.features)
      throw ShapeError(where() + "backward: gradient is " + dims(dy.values) + ", output was " + std::to_string(rows) +
                       "x" + std::to_string(output_shape_.features));
    dx_.batch = out_.batch;
    dx_.shape = input_shape_;
    dx_.mask.clear();
    try {
      do_backward(*cached_input_, dy, dx_);
    } catch (...) {
      cached_input_ = nullptr;  // the cache may be partly overwritten
      throw;
    }
    if (!input_grad()) dx_.values.resize(0, 0);
    cached_input_ = nullptr;  // used up: the next backward needs a new forward
    return dx_;
  }

  /// The output of the last forward().
  const SeqBatch<T>& output() const { return out_; }

 protected:
  /// A shape that forward() accepts besides input_shape(): a fused path (see Recurrent's fused embedding).
  virtual bool accepts_input(const Shape&) const { return false; }
  /// Declares a parameter; call from do_build in a fixed order (this order is the file order too).
  void declare_param(const std::string& pname, Index rows, Index cols, Initializer init) {
    specs_.push_back(ParamSpec{pname, rows, cols, init});
  }
  /// Returns the output shape, after declaring parameters.
  virtual Shape do_build(const Shape& input) = 0;
  /// Fills y.values (and y.mask) from x. y.batch and y.shape are already set.
  virtual void do_forward(const SeqBatch<T>& x, SeqBatch<T>& y, Mode mode, Rng* rng) = 0;
  /// Adds parameter gradients; fills dx.values when input_grad() (dx.batch and dx.shape are set).
  virtual void do_backward(const SeqBatch<T>& x, const SeqBatch<T>& dy, SeqBatch<T>& dx) = 0;

  /// "LSTM 'lstm_1': " - the prefix of every message about this layer.
  std::string where() const { return type_name() + " '" + (name_.empty() ? default_name() : name_) + "': "; }
  static std::string dims(const Matrix<T>& m) { return std::to_string(m.rows()) + "x" + std::to_string(m.cols()); }
  /// Rng for a training pass, or a clear error.
  Rng& need_rng(Rng* rng) const {
    if (!rng) throw StateError(where() + "training with dropout needs an Rng");
    return *rng;
  }

 private:
  void require_built() const {
    if (!built_) throw StateError(where() + "used before build()");
  }
  std::size_t index_of(const std::string& pname) const {
    for (std::size_t i = 0; i < specs_.size(); ++i)
      if (specs_[i].name == pname) return i;
    throw InvalidArgument(where() + "has no parameter '" + pname + "'");
  }
  void remap(T* values, T* grads) {
    values_.clear();
    grads_.clear();
    values_base_ = values;
    Index off = 0;
    for (const auto& s : specs_) {
      values_.emplace_back(values + off, s.rows, s.cols);
      grads_.emplace_back(grads + off, s.rows, s.cols);
      off += s.size();
    }
  }
  void check_input(const SeqBatch<T>& x) const {
    const Shape& s = x.shape;
    if (s != input_shape_ && !accepts_input(s))
      throw ShapeError(where() + "input shape " + to_string(s) +
                       (s.encoding != input_shape_.encoding ? " (other encoding)" : "") +
                       " does not match the built input shape " + to_string(input_shape_));
    if (x.batch <= 0) throw ShapeError(where() + "batch size must be positive, got " + std::to_string(x.batch));
    const Index rows = s.rows_per_sample() * x.batch;
    if (x.values.rows() != rows || x.values.cols() != s.columns())
      throw ShapeError(where() + "input values are " + dims(x.values) + ", expected " + std::to_string(rows) + "x" +
                       std::to_string(s.columns()));
    if (x.has_mask() && static_cast<Index>(x.mask.size()) != rows)
      throw ShapeError(where() + "mask has " + std::to_string(x.mask.size()) + " entries, expected " +
                       std::to_string(rows));
  }

  std::string name_;
  bool built_ = false;
  bool input_grad_ = true;
  Shape input_shape_, output_shape_;
  std::vector<ParamSpec> specs_;
  std::vector<T> owned_values_, owned_grads_;
  T* values_base_ = nullptr;
  std::vector<MatrixMap<T>> values_, grads_;
  const SeqBatch<T>* cached_input_ = nullptr;
  SeqBatch<T> out_, dx_;
};

}  // namespace seqnet
