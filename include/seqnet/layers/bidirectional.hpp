#pragma once
/// \file
/// Bidirectional (Keras' Bidirectional): runs a recurrent layer forward and a copy of it with go_backwards
/// flipped, on the same input, and merges the two outputs.
///
/// Shapes (R = T*B rows with return_sequences, else B; H = the inner layer's units):
///   y_f, y_b: R x H (y_b reversed back to input order when return_sequences, as Keras does)
///   Concat: y = [y_f | y_b] (R x 2H);  Sum: y = y_f + y_b;  Average: y = (y_f + y_b) / 2;
///   Multiply: y = y_f .* y_b  (all R x H).
/// Backward: dy_f, dy_b from the merge (Concat: the two column halves; Sum: dy, dy; Average: dy/2, dy/2;
///   Multiply: dy .* y_b, dy .* y_f), dy_b reversed into processing order, then dx = dx_f + dx_b.
/// Parameters: the forward layer's, then the backward layer's, names prefixed "forward_" / "backward_"
///   (Keras' get_weights() order); both inner layers are bound to this layer's storage.
/// Cache: the inner layers' caches and their outputs.

#include "seqnet/layers/recurrent.hpp"

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace seqnet {

enum class MergeMode { Concat, Sum, Average, Multiply };

inline const char* to_string(MergeMode m) {
  switch (m) {
    case MergeMode::Concat:
      return "concat";
    case MergeMode::Sum:
      return "sum";
    case MergeMode::Average:
      return "ave";
    case MergeMode::Multiply:
      return "mul";
  }
  return "?";
}

/// Keras' names: "concat", "sum", "ave", "mul".
inline MergeMode merge_mode_from_string(const std::string& s) {
  if (s == "concat") return MergeMode::Concat;
  if (s == "sum") return MergeMode::Sum;
  if (s == "ave") return MergeMode::Average;
  if (s == "mul") return MergeMode::Multiply;
  throw InvalidArgument("unknown merge mode '" + s + "' (expected concat, sum, ave or mul)");
}

template <typename T>
class Bidirectional final : public Layer<T>, public EmbeddingReader<T> {
 public:
  /// Wraps `layer` (an unbuilt SimpleRNN, LSTM or GRU).
  explicit Bidirectional(std::unique_ptr<Layer<T>> layer, MergeMode merge = MergeMode::Concat) : merge_(merge) {
    if (!layer) throw InvalidArgument("Bidirectional: the wrapped layer is null");
    auto* rec = dynamic_cast<Recurrent<T>*>(layer.get());
    if (!rec)
      throw InvalidArgument("Bidirectional: can only wrap a recurrent layer (SimpleRNN, LSTM, GRU), got " +
                            layer->type_name());
    if (layer->built())
      throw InvalidArgument("Bidirectional: the wrapped " + layer->type_name() + " must not be built yet");
    bwd_ = rec->clone_reversed();
    fwd_ = std::move(layer);
    fwd_->set_name("forward_" + fwd_->default_name());
    bwd_->set_name("backward_" + bwd_->default_name());
  }
  /// Wraps a copy of `layer` (for example `Bidirectional<float>(LSTM<float>(8))`).
  template <typename L, typename = std::enable_if_t<std::is_base_of<Recurrent<T>, std::decay_t<L>>::value>>
  explicit Bidirectional(L&& layer, MergeMode merge = MergeMode::Concat)
      : Bidirectional(layer.clone_unbuilt(), merge) {}

  std::string type_name() const override { return "Bidirectional"; }
  std::string default_name() const override { return "bidirectional"; }
  Config config() const override {
    Config c;
    c.set("merge_mode", to_string(merge_));
    c.set("layer.type", fwd_->type_name());
    c.merge("layer.", fwd_->config());
    return c;
  }
  /// Recreates a Bidirectional from config() and the inner layer that config's "layer." entries describe
  /// (the layer factory makes it).
  static std::unique_ptr<Layer<T>> from_config(const Config& c, std::unique_ptr<Layer<T>> inner) {
    return std::make_unique<Bidirectional<T>>(std::move(inner), merge_mode_from_string(c.get_string("merge_mode")));
  }
  std::unique_ptr<Layer<T>> clone_unbuilt() const override {
    return std::make_unique<Bidirectional<T>>(fwd_->clone_unbuilt(), merge_);
  }

  MergeMode merge_mode() const { return merge_; }

  /// Attaches the Embedding in front to both directions (Recurrent::set_fused_embedding): each reads the
  /// ids through the table and adds its part of dL/dE into the Embedding's gradient. Call after build.
  void set_fused_embedding(Layer<T>* embedding) override {
    if (!this->built()) throw StateError(this->where() + "set_fused_embedding() needs a built layer");
    inner(*fwd_).set_fused_embedding(embedding);
    inner(*bwd_).set_fused_embedding(embedding);
  }
  /// The Embedding both directions read through (they are attached together).
  const Layer<T>* fused_embedding() const override { return static_cast<const Recurrent<T>&>(*fwd_).fused_embedding(); }
  /// The two directions take the same input and decide alike; the forward one answers.
  bool fuses_embedding(Mode mode, const SeqBatch<T>& x) const override {
    return static_cast<const Recurrent<T>&>(*fwd_).fuses_embedding(mode, x);
  }
  /// Both directions (each has its own W, so its own products over the ids), pointed at this layer's
  /// parameter storage first.
  void readers(std::vector<Recurrent<T>*>& out) override {
    sync_inner();
    out.push_back(&inner(*fwd_));
    out.push_back(&inner(*bwd_));
  }
  /// The forward and the backward layer.
  const Layer<T>& forward_layer() const { return *fwd_; }
  const Layer<T>& backward_layer() const { return *bwd_; }

 protected:
  bool accepts_input(const Shape& in) const override {
    return fused_embedding() && in.encoding == Encoding::Ids && in.steps == this->input_shape().steps;
  }

  Shape do_build(const Shape& in) override {
    const Shape of = fwd_->build(in);
    bwd_->build(in);
    for (const auto& s : fwd_->param_specs()) this->declare_param("forward_" + s.name, s.rows, s.cols, s.init);
    for (const auto& s : bwd_->param_specs()) this->declare_param("backward_" + s.name, s.rows, s.cols, s.init);
    bound_values_ = bound_grads_ = nullptr;
    return merge_ == MergeMode::Concat ? Shape{of.steps, 2 * of.features, of.encoding} : of;
  }

  void do_forward(const SeqBatch<T>& x, SeqBatch<T>& y, Mode mode, Rng* rng) override {
    sync_inner();
    fwd_->set_input_grad(this->input_grad());
    bwd_->set_input_grad(this->input_grad());
    const SeqBatch<T>& yf = fwd_->forward(x, mode, rng);
    const SeqBatch<T>& yb = bwd_->forward(x, mode, rng);
    const bool seq = yf.shape.is_sequence();
    const Index B = x.batch, steps = seq ? yf.shape.steps : 1, H = yf.values.cols();
    // The backward layer's output in input order (a copy: its own buffer is in processing order).
    if (seq) {
      ybr_.resize(yb.values.rows(), H);
      for (Index s = 0; s < steps; ++s) ybr_.middleRows((steps - 1 - s) * B, B) = yb.values.middleRows(s * B, B);
    } else {
      ybr_ = yb.values;
    }
    const Matrix<T>& f = yf.values;
    switch (merge_) {
      case MergeMode::Concat:
        y.values.resize(f.rows(), 2 * H);
        y.values.leftCols(H) = f;
        y.values.rightCols(H) = ybr_;
        break;
      case MergeMode::Sum:
        y.values = f + ybr_;
        break;
      case MergeMode::Average:
        y.values = (f + ybr_) * T(0.5);
        break;
      case MergeMode::Multiply:
        y.values = f.cwiseProduct(ybr_);
        break;
    }
    if (seq)
      y.mask = x.mask;
    else
      y.mask.clear();
  }

  void do_backward(const SeqBatch<T>& x, const SeqBatch<T>& dy, SeqBatch<T>& dx) override {
    (void)x;
    sync_inner();
    const SeqBatch<T>& yf = fwd_->output();
    const Index H = yf.values.cols(), B = dy.batch;
    const bool seq = yf.shape.is_sequence();
    const Index steps = seq ? yf.shape.steps : 1;
    dyf_.batch = dyb_.batch = B;
    dyf_.shape = dyb_.shape = yf.shape;
    switch (merge_) {
      case MergeMode::Concat:
        dyf_.values = dy.values.leftCols(H);
        dybr_ = dy.values.rightCols(H);
        break;
      case MergeMode::Sum:
        dyf_.values = dy.values;
        dybr_ = dy.values;
        break;
      case MergeMode::Average:
        dyf_.values = dy.values * T(0.5);
        dybr_ = dyf_.values;
        break;
      case MergeMode::Multiply:
        dyf_.values = dy.values.cwiseProduct(ybr_);  // d y_f = dy .* y_b
        dybr_ = dy.values.cwiseProduct(yf.values);   // d y_b = dy .* y_f
        break;
    }
    if (seq) {
      dyb_.values.resize(dybr_.rows(), H);
      for (Index s = 0; s < steps; ++s) dyb_.values.middleRows(s * B, B) = dybr_.middleRows((steps - 1 - s) * B, B);
    } else {
      dyb_.values = dybr_;
    }
    const SeqBatch<T>& dxf = fwd_->backward(dyf_);
    if (this->input_grad()) dx.values = dxf.values;
    const SeqBatch<T>& dxb = bwd_->backward(dyb_);
    if (this->input_grad()) dx.values += dxb.values;  // dx = dx_f + dx_b
  }

 private:
  static Recurrent<T>& inner(Layer<T>& l) { return static_cast<Recurrent<T>&>(l); }

  /// Points both inner layers at this layer's parameter storage (again, when it was rebound).
  void sync_inner() {
    T* values = this->param(0).data();
    T* grads = this->grad(0).data();
    if (values == bound_values_ && grads == bound_grads_) return;
    const Index nf = fwd_->num_params();
    fwd_->bind(values, grads, false);
    bwd_->bind(values + nf, grads + nf, false);
    bound_values_ = values;
    bound_grads_ = grads;
  }

  MergeMode merge_;
  std::unique_ptr<Layer<T>> fwd_, bwd_;  // both Recurrent (checked by the constructor)
  T* bound_values_ = nullptr;
  T* bound_grads_ = nullptr;
  Matrix<T> ybr_, dybr_;
  SeqBatch<T> dyf_, dyb_;
};

}  // namespace seqnet
