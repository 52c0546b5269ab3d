#pragma once
/// \file
/// SimpleRNN (Keras' SimpleRNN): a fully connected recurrence.
///
/// Shapes (T steps, B batch, D inputs, H units; layout of recurrent.hpp):
///   W ("kernel"): D x H, U ("recurrent_kernel"): H x H, b ("bias"): 1 x H; x_t: B x D, h_t: B x H.
/// Forward:  h_t = a(x_t W + b + h_{t-1} U)   (a = tanh by default; x W + b for all steps in one GEMM)
///           with a mask byte 0 at (t, b): h_t of that row = h_{t-1}.
/// Backward: dG_t = dh_t .* a'(h~_t)  (h~_t the unmasked new state);  dh_{t-1} = dG_t U^T (+ the carried part)
///           after the loop: dW += X^T dG, db += 1^T dG, dU += H_prev^T dG, dX = dG W^T.
/// Dropout: x_t .* M_x, and h_{t-1} .* M_h inside h_{t-1} U (one mask per sequence, recurrent.hpp).
/// Cache (Mode::Train): G holds h~_t per step, S the states, the dropped inputs when dropout is on.

#include "seqnet/detail/fused_step.hpp"
#include "seqnet/layers/recurrent.hpp"

namespace seqnet {

/// Options of SimpleRNN, with Keras' defaults.
struct SimpleRNNOptions {
  bool return_sequences = false;
  bool go_backwards = false;
  double dropout = 0.0;            ///< fraction of input features dropped (one mask per sequence)
  double recurrent_dropout = 0.0;  ///< fraction of state units dropped in the recurrent product
  Activation activation = Activation::Tanh;
};

template <typename T>
class SimpleRNN final : public Recurrent<T> {
 public:
  /// A SimpleRNN with `units` units.
  explicit SimpleRNN(Index units, SimpleRNNOptions options = {})
      : Recurrent<T>("SimpleRNN",
                     RecurrentSettings{units, options.return_sequences, options.go_backwards, options.dropout,
                                       options.recurrent_dropout, options.activation, Activation::Sigmoid}) {}

  std::string type_name() const override { return "SimpleRNN"; }
  std::string default_name() const override { return "simple_rnn"; }
  Config config() const override {
    Config c;
    this->write_common_config(c, false);
    return c;
  }
  /// Recreates a SimpleRNN from config().
  static std::unique_ptr<Layer<T>> from_config(const Config& c) {
    const RecurrentSettings s = Recurrent<T>::read_common_config(c, false);
    return std::make_unique<SimpleRNN<T>>(
        s.units, SimpleRNNOptions{s.return_sequences, s.go_backwards, s.dropout, s.recurrent_dropout, s.activation});
  }
  std::unique_ptr<Layer<T>> clone_unbuilt() const override {
    return std::make_unique<SimpleRNN<T>>(this->units(), options());
  }

  /// The options this layer was made with.
  SimpleRNNOptions options() const {
    const RecurrentSettings& s = this->settings();
    return SimpleRNNOptions{s.return_sequences, s.go_backwards, s.dropout, s.recurrent_dropout, s.activation};
  }

 protected:
  Shape do_build(const Shape& in) override {
    const Shape out = this->build_common(in);
    const Index H = this->units();
    this->declare_param("kernel", in.features, H, Initializer::glorot_uniform());
    this->declare_param("recurrent_kernel", H, H, Initializer::orthogonal());
    this->declare_param("bias", 1, H, Initializer::zeros());
    return out;
  }

  void do_forward(const SeqBatch<T>& x, SeqBatch<T>& y, Mode mode, Rng* rng) override {
    const Index H = this->units(), B = x.batch;
    const Activation act = this->activation();
    this->begin_forward(x, mode, rng, {&S_}, {});
    const auto& U = this->param(1);
    this->project(x, this->param(0), this->param(2), G_);  // G = X W + b
    const bool tanh_path = tanh_step();
    [[maybe_unused]] const bool fused = tanh_path && H <= detail::kFusedStepMaxUnits;
    if (!(detail::fused_step_packets<T>() && fused)) Up_.pack(U);  // for h_{t-1} U at every step
    for (Index s = 0; s < this->T_; ++s) {
      const Index t = this->step_of(s), pr = this->prev_row(s, t), cr = this->cur_row(s, t);
      auto Gt = this->step_gates(x, this->param(0), this->param(2), G_, t);
      if constexpr (detail::fused_step_packets<T>()) {
        if (fused) {
          const auto hp =
              this->drop_h_ ? detail::cols_of(this->dropped_prev(S_, pr)) : detail::cols_of(S_.middleRows(pr, B));
          detail::rnn_step_fused(detail::RnnStep<T>{B, H, hp, detail::cols_of(U), detail::cols_of(Gt),
                                                    detail::mutable_cols_of(S_.middleRows(cr, B))});
          this->emit(S_, s, cr, x, y);
          continue;
        }
      }
      if (this->drop_h_)
        detail::rec_mul_acc(this->dropped_prev(S_, pr), Up_, Gt);  // G_t += (h_{t-1} .* M_h) U
      else
        detail::rec_mul_acc(S_.middleRows(pr, B), Up_, Gt);  // G_t += h_{t-1} U
      if (tanh_path) {
        // h_t = tanh(G_t) column by column, straight from the recurrent product into S (G keeps h~_t).
        for (Index j = 0; j < H; ++j) S_.middleRows(cr, B).col(j).array() = Gt.col(j).array().tanh();
      } else {
        detail::activate_block(act, Gt);
        if (!this->masked_) {
          S_.middleRows(cr, B) = Gt;
        } else {
          const auto m = this->mask_of(t).array();
          for (Index j = 0; j < H; ++j)
            S_.middleRows(cr, B).col(j).array() =
                m * Gt.col(j).array() + (T(1) - m) * S_.middleRows(pr, B).col(j).array();
        }
      }
      this->emit(S_, s, cr, x, y);
    }
  }

  void do_backward(const SeqBatch<T>& x, const SeqBatch<T>& dy, SeqBatch<T>& dx) override {
    const Index H = this->units(), B = this->B_, steps = this->T_;
    const auto& U = this->param(1);
    this->resize_steps(dG_, steps * B, H);
    dh_.setZero(B, H);
    if (this->drop_h_) tmp_.resize(B, H);
    const bool tanh_path = tanh_step();
    [[maybe_unused]] const bool fused = tanh_path && H <= detail::kFusedStepMaxUnits;
    if (!(detail::fused_step_packets<T>() && fused)) Up_.pack_transposed(U);  // for dG_t U^T at every step
    for (Index s = steps - 1; s >= 0; --s) {
      const Index t = this->step_of(s);
      this->add_output_grad(dy, s, dh_);
      auto dGt = dG_.middleRows(t * B, B);
      if constexpr (detail::fused_step_packets<T>()) {
        if (fused) {
          detail::rnn_step_grads_fused(
              detail::RnnStepGrads<T>{B, H, detail::cols_of(S_.middleRows(this->cur_row(s, t), B)), detail::cols_of(U),
                                      detail::mutable_cols_of(dh_), detail::mutable_cols_of(dGt),
                                      this->drop_h_ ? detail::cols_of(this->Mh_) : detail::Cols<const T>{nullptr, 0}});
          continue;
        }
      }
      if (tanh_path) {
        // dG_t = dh .* (1 - h_t^2) and dh = 0, in one pass over each column (h_t from S, see do_forward).
        const auto h = S_.middleRows(this->cur_row(s, t), B);
        for (Index j = 0; j < H; ++j) {
          dGt.col(j).array() = dh_.col(j).array() * (T(1) - h.col(j).array().square());
          dh_.col(j).setZero();
        }
      } else {
        if (this->masked_) {
          this->split_by_mask(t, dh_, dGt);  // dh keeps the carried part
        } else {
          dGt = dh_;
          dh_.setZero();
        }
        detail::mul_activation_grad(this->activation(), dGt, G_.middleRows(t * B, B));  // dG_t = dh .* a'(h~_t)
      }
      if (this->drop_h_) {
        tmp_.setZero();
        detail::rec_mul_acc(dGt, Up_, tmp_);
        dh_ += tmp_.cwiseProduct(this->Mh_);  // dh_{t-1} += (dG_t U^T) .* M_h
      } else {
        detail::rec_mul_acc(dGt, Up_, dh_);  // dh_{t-1} += dG_t U^T
      }
    }
    const auto dG = this->all_steps(dG_);
    this->project_backward(x, dG, this->param(0), this->grad(0), dx);  // dW += X^T dG; dX = dG W^T
    this->grad(2) += dG.colwise().sum();                               // db += 1^T dG
    this->recurrent_weight_grad(S_, dG, this->grad(1));                // dU += H_prev^T dG
  }

 private:
  /// Keras' default activation without a mask: the step's activation and its gradient run column by column
  /// from and into S (h_t = tanh(G_t), dG_t = dh .* (1 - h_t^2)); nothing reads G after the step (the
  /// fused step, up to 16 units in float, leaves it at X_t W + b). Otherwise G holds a(G_t) after the step
  /// and the block expressions handle any activation and the mask.
  bool tanh_step() const { return this->activation() == Activation::Tanh && !this->masked_; }

  Matrix<T> G_, S_;
  Matrix<T> dG_, dh_, tmp_;
  detail::PackedRhs<T> Up_;  // U packed for the forward's per-step product, U^T for the backward's
};

}  // namespace seqnet
