#pragma once
/// \file
/// Dropout (Keras' Dropout, inverted scaling, an independent draw for every element; no noise_shape).
///
/// Shapes: x, y, dx, M: R x F (R = steps*B rows, or B without a time axis).
/// Train:    M_i = 1/(1-rate) with probability 1-rate, else 0 (drawn from the Rng given to forward,
///           element by element in storage order);   y = x .* M
/// Eval:     y = x
/// Backward: dx = dy .* M
/// Cache: M (Train only). The mask of x (padding) is passed on unchanged.

#include "seqnet/layers/layer.hpp"

#include <cmath>
#include <cstdio>

namespace seqnet {

template <typename T>
class Dropout final : public Layer<T> {
 public:
  /// rate: fraction of the inputs set to zero while training, in [0, 1).
  explicit Dropout(double rate) : rate_(rate) {
    if (!(rate >= 0.0 && rate < 1.0)) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", rate);
      throw InvalidArgument(std::string("Dropout: rate must be in [0, 1), got ") + buf);
    }
  }

  std::string type_name() const override { return "Dropout"; }
  std::string default_name() const override { return "dropout"; }
  Config config() const override {
    Config c;
    c.set("rate", rate_);
    return c;
  }
  static std::unique_ptr<Layer<T>> from_config(const Config& c) {
    return std::make_unique<Dropout<T>>(c.get_double("rate"));
  }
  std::unique_ptr<Layer<T>> clone_unbuilt() const override { return std::make_unique<Dropout<T>>(rate_); }

  double rate() const { return rate_; }
  /// The scaled keep mask M of the last training forward.
  const Matrix<T>& dropout_mask() const { return keep_; }

 protected:
  Shape do_build(const Shape& in) override {
    if (in.encoding != Encoding::Dense)
      throw ShapeError(this->where() +
                       "expects real values, got integer ids; put it after an Embedding or Dense layer");
    return in;
  }

  void do_forward(const SeqBatch<T>& x, SeqBatch<T>& y, Mode mode, Rng* rng) override {
    y.mask = x.mask;
    if (mode == Mode::Eval) {
      y.values = x.values;  // y = x
      return;
    }
    Rng& r = this->need_rng(rng);
    keep_.resize(x.values.rows(), x.values.cols());
    const T scale = static_cast<T>(1.0 / (1.0 - rate_));
    T* m = keep_.data();
    const Index n = keep_.size();
    for (Index i = 0; i < n; ++i) m[i] = r.uniform() >= rate_ ? scale : T(0);  // keep with probability 1-rate
    y.values = x.values.cwiseProduct(keep_);                                   // y = x .* M
  }

  void do_backward(const SeqBatch<T>&, const SeqBatch<T>& dy, SeqBatch<T>& dx) override {
    if (this->input_grad()) dx.values = dy.values.cwiseProduct(keep_);  // dx = dy .* M
  }

 private:
  double rate_;
  Matrix<T> keep_;
};

}  // namespace seqnet
