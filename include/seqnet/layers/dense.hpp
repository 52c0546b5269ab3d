#pragma once
/// \file
/// Dense: y = act(x W + b), applied to every row, so to every step when the input is a sequence.
///
/// Shapes (R = rows of the batch = steps*B, or B without a time axis; D inputs; U units):
///   x: R x D (or R ids for one-hot input), W ("kernel"): D x U, b ("bias"): 1 x U, y: R x U
/// Forward:  z = x W + b;  y = act(z)   (softmax: y_r = exp(z_r) / sum exp(z_r), per row)
/// Backward: dz = dy * act'(y)          (softmax: dz_r = y_r * (dy_r - <dy_r, y_r>))
///           dW += x^T dz;  db += 1^T dz;  dx = dz W^T
/// Cache: y (the output itself) and a pointer to x.

#include "seqnet/core/activation.hpp"
#include "seqnet/detail/projection.hpp"
#include "seqnet/layers/layer.hpp"

namespace seqnet {

struct DenseOptions {
  Activation activation = Activation::Linear;
  bool use_bias = true;
};

template <typename T>
class Dense final : public Layer<T> {
 public:
  explicit Dense(Index units, DenseOptions options = {}) : units_(units), opt_(options) {
    if (units <= 0) throw InvalidArgument("Dense: units must be positive, got " + std::to_string(units));
  }
  Dense(Index units, Activation activation) : Dense(units, DenseOptions{activation, true}) {}

  std::string type_name() const override { return "Dense"; }
  std::string default_name() const override { return "dense"; }
  Config config() const override {
    Config c;
    c.set("units", static_cast<long long>(units_));
    c.set("activation", to_string(opt_.activation));
    c.set("use_bias", opt_.use_bias);
    return c;
  }
  static std::unique_ptr<Layer<T>> from_config(const Config& c) {
    return std::make_unique<Dense<T>>(
        static_cast<Index>(c.get_int("units")),
        DenseOptions{activation_from_string(c.get_string("activation")), c.get_bool("use_bias")});
  }
  std::unique_ptr<Layer<T>> clone_unbuilt() const override { return std::make_unique<Dense<T>>(units_, opt_); }

  Index units() const { return units_; }
  Activation activation() const { return opt_.activation; }

  /// Pre-activation values z of the last forward (kept for sigmoid and softmax, for the fused losses).
  const Matrix<T>& logits() const { return z_; }
  /// Backward from dL/dz instead of dL/dy: the fused sigmoid/softmax + cross-entropy path, which never
  /// divides by a saturated y(1-y).
  const SeqBatch<T>& backward_logits(const SeqBatch<T>& dz) {
    logits_grad_ = true;
    try {
      const SeqBatch<T>& out = this->backward(dz);
      logits_grad_ = false;
      return out;
    } catch (...) {
      logits_grad_ = false;
      throw;
    }
  }

 protected:
  Shape do_build(const Shape& in) override {
    if (in.encoding == Encoding::Ids)
      throw ShapeError(this->where() + "cannot take integer ids; put an Embedding first or use one-hot input");
    this->declare_param("kernel", in.features, units_, Initializer::glorot_uniform());
    if (opt_.use_bias) this->declare_param("bias", 1, units_, Initializer::zeros());
    return Shape{in.steps, units_, Encoding::Dense};
  }

  void do_forward(const SeqBatch<T>& x, SeqBatch<T>& y, Mode, Rng*) override {
    const auto& W = this->param(0);
    if (x.shape.encoding == Encoding::OneHot) detail::read_ids(x, x.shape.features, this->where(), ids_);
    if (opt_.use_bias) {
      detail::project_input(x, ids_, W, this->param(1), y.values);
    } else {
      zero_bias_.setZero(1, units_);
      detail::project_input(x, ids_, W, zero_bias_, y.values);
    }
    const Index rows = y.values.rows();
    if (opt_.activation == Activation::Sigmoid || opt_.activation == Activation::Softmax) z_ = y.values;
    if (opt_.activation == Activation::Softmax) {
      for (Index r = 0; r < rows; ++r) {
        auto row = y.values.row(r);
        const T m = row.maxCoeff();
        row.array() = (row.array() - m).exp();
        row /= row.sum();
      }
    } else {
      detail::activate_inplace(opt_.activation, y.values.data(), y.values.size());
    }
    y.mask = x.mask;
  }

  void do_backward(const SeqBatch<T>& x, const SeqBatch<T>& dy, SeqBatch<T>& dx) override {
    const Matrix<T>& y = this->output().values;
    if (logits_grad_) {
      dz_ = dy.values;
    } else if (opt_.activation == Activation::Softmax) {
      dz_ = y.cwiseProduct(dy.values);
      const Vector<T> dots = dz_.rowwise().sum();          // <dy_r, y_r>
      dz_ -= y.cwiseProduct(dots.replicate(1, y.cols()));  // dz = y*dy - y*<dy,y>
    } else if (opt_.activation == Activation::Linear) {
      dz_ = dy.values;
    } else {
      dz_ = dy.values.binaryExpr(
          y, [a = opt_.activation](T g, T out) { return g * detail::activation_grad_from_output(a, out); });
    }
    detail::project_input_backward(x, ids_, dz_, this->grad(0), work_);              // dW += x^T dz
    if (opt_.use_bias) this->grad(1) += dz_.colwise().sum();                         // db += 1^T dz
    if (this->input_grad()) dx.values.noalias() = dz_ * this->param(0).transpose();  // dx = dz W^T
  }

 private:
  Index units_;
  DenseOptions opt_;
  Matrix<T> z_, dz_;
  Matrix<T> zero_bias_;
  std::vector<std::int32_t> ids_;   // one-hot input: the ids of the last forward
  detail::RowMajorMatrix<T> work_;  // scatter workspace
  bool logits_grad_ = false;
};

}  // namespace seqnet
