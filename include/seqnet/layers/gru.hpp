#pragma once
/// \file
/// GRU (Keras' GRU, implementation 2): gate order z (update), r (reset), h (candidate).
///
/// Shapes (T steps, B batch, D inputs, H units; layout of recurrent.hpp):
///   W ("kernel"): D x 3H, U ("recurrent_kernel"): H x 3H, column blocks [z | r | h].
///   reset_after (default): b ("bias") 2 x 3H, row 0 the input bias b, row 1 the recurrent bias rb.
///   reset_after = false:   b ("bias") 1 x 3H.
/// Forward (s = sigma, the recurrent activation; a = tanh, the activation; h' = h_{t-1} .* M_h with
/// recurrent dropout, else h_{t-1}):
///   G_t = x_t W + b (all steps in one GEMM before the loop)
///   reset_after:  R_t = h' U + rb;  z = s(G_z + R_z);  r = s(G_r + R_r);  hh = a(G_h + r .* R_h)
///   otherwise:    z = s(G_z + h' U_z);  r = s(G_r + h' U_r);  hh = a(G_h + (r .* h') U_h)
///   h_t = z .* h' + (1 - z) .* hh
///   Keras mixes with the DROPPED previous state h' (its implementation 2 overwrites h_tm1 with the dropped
///   copy before the final mix); seqnet does the same. A mask byte 0 at (t, b): h_t of that row = h_{t-1}.
/// Backward (dh: gradient arriving at h_t; at masked rows it passes through to h_{t-1} unchanged):
///   dG_z = dh .* (h' - hh) .* s'(z);  dG_h = dh .* (1 - z) .* a'(hh)
///   reset_after:  dR_h = dG_h .* r;  dG_r = dG_h .* R_h .* s'(r);  dR_{z,r} = dG_{z,r}
///                 dh' = dh .* z + dR_t U^T
///                 after the loop: dU += H'^T dR, drb += 1^T dR
///   otherwise:    d(r.*h') = dG_h U_h^T;  dG_r = d(r.*h') .* h' .* s'(r)
///                 dh' = dh .* z + d(r.*h') .* r + dG_{z,r} U_{z,r}^T
///                 after the loop: dU_{z,r} += H'^T dG_{z,r}, dU_h += (r .* H')^T dG_h
///   dh_{t-1} = dh' .* M_h (or dh');  after the loop: dW += X^T dG, db += 1^T dG, dX = dG W^T.
/// Cache (Mode::Train): G holds [z r hh] per step, S the states, RH = R_h (reset_after) or r .* h'
///   (otherwise) per step, the dropped inputs when dropout is on.

#include "seqnet/detail/fused_step.hpp"
#include "seqnet/layers/recurrent.hpp"

namespace seqnet {

/// Options of GRU, with Keras' defaults.
struct GRUOptions {
  bool return_sequences = false;
  bool go_backwards = false;
  double dropout = 0.0;            ///< fraction of input features dropped (one mask per sequence)
  double recurrent_dropout = 0.0;  ///< fraction of state units dropped in the recurrent product
  Activation activation = Activation::Tanh;
  Activation recurrent_activation = Activation::Sigmoid;
  bool reset_after = true;  ///< apply the reset gate after the recurrent product (two bias rows)
};

template <typename T>
class GRU final : public Recurrent<T> {
 public:
  /// A GRU with `units` units.
  explicit GRU(Index units, GRUOptions options = {})
      : Recurrent<T>("GRU",
                     RecurrentSettings{units, options.return_sequences, options.go_backwards, options.dropout,
                                       options.recurrent_dropout, options.activation, options.recurrent_activation}),
        reset_after_(options.reset_after) {}

  std::string type_name() const override { return "GRU"; }
  std::string default_name() const override { return "gru"; }
  Config config() const override {
    Config c;
    this->write_common_config(c, true);
    c.set("reset_after", reset_after_);
    return c;
  }
  /// Recreates a GRU from config().
  static std::unique_ptr<Layer<T>> from_config(const Config& c) {
    const RecurrentSettings s = Recurrent<T>::read_common_config(c, true);
    GRUOptions o{s.return_sequences,     s.go_backwards,           s.dropout, s.recurrent_dropout, s.activation,
                 s.recurrent_activation, c.get_bool("reset_after")};
    return std::make_unique<GRU<T>>(s.units, o);
  }
  std::unique_ptr<Layer<T>> clone_unbuilt() const override {
    return std::make_unique<GRU<T>>(this->units(), options());
  }

  /// The options this layer was made with.
  GRUOptions options() const {
    const RecurrentSettings& s = this->settings();
    return GRUOptions{s.return_sequences, s.go_backwards,         s.dropout,   s.recurrent_dropout,
                      s.activation,       s.recurrent_activation, reset_after_};
  }
  bool reset_after() const { return reset_after_; }

 protected:
  Shape do_build(const Shape& in) override {
    const Shape out = this->build_common(in);
    const Index H = this->units();
    this->declare_param("kernel", in.features, 3 * H, Initializer::glorot_uniform());
    this->declare_param("recurrent_kernel", H, 3 * H, Initializer::orthogonal());
    this->declare_param("bias", reset_after_ ? 2 : 1, 3 * H, Initializer::zeros());
    return out;
  }

  void do_forward(const SeqBatch<T>& x, SeqBatch<T>& y, Mode mode, Rng* rng) override {
    const Index H = this->units(), B = x.batch;
    this->begin_forward(x, mode, rng, {&S_}, {&RH_});
    const auto& bias = this->param(2);
    this->project(x, this->param(0), bias.topRows(1), G_);  // G = X W + b
    if (reset_after_) R_.resize(B, 3 * H);
    if (this->masked_) hn_.resize(B, H);
    const bool fast = standard_step();
    [[maybe_unused]] const bool fused = fast && H <= detail::kFusedStepMaxUnits;
    for (Index s = 0; s < this->T_; ++s) {
      const Index t = this->step_of(s), pr = this->prev_row(s, t), cr = this->cur_row(s, t), tr = this->cache_row(t);
      auto Gt = this->step_gates(x, this->param(0), bias.topRows(1), G_, t);
      auto rh = RH_.middleRows(tr, B);
      // hp = h': the previous state as it enters the step (dropped with recurrent dropout).
      const auto step = [&](const auto& hp) {
        if constexpr (detail::fused_step_packets<T>()) {
          if (fused) {
            detail::gru_step_fused(detail::GruStep<T>{B, H, detail::cols_of(hp), detail::cols_of(this->param(1)),
                                                      detail::Cols<const T>{bias.data() + 1, bias.outerStride()},
                                                      detail::mutable_cols_of(Gt), detail::mutable_cols_of(rh),
                                                      detail::mutable_cols_of(S_.middleRows(cr, B)),
                                                      detail::Cols<const T>{nullptr, 0}});
            return;
          }
        }
        if (fast)
          step_standard(Gt, hp, rh, S_.middleRows(cr, B));
        else
          step_block(Gt, hp, t, pr, cr, rh);
      };
      if (this->drop_h_)
        step(this->dropped_prev(S_, pr));
      else
        step(S_.middleRows(pr, B));
      this->emit(S_, s, cr, x, y);
    }
  }

  void do_backward(const SeqBatch<T>& x, const SeqBatch<T>& dy, SeqBatch<T>& dx) override {
    const Index H = this->units(), B = this->B_, steps = this->T_;
    this->resize_steps(dG_, steps * B, 3 * H);
    if (reset_after_)
      this->resize_steps(dR_, steps * B, 3 * H);
    else
      drh_.resize(B, H);
    dh_.setZero(B, H);
    dhn_.resize(B, H);
    dhp_.resize(B, H);
    const bool fast = standard_step();
    for (Index s = steps - 1; s >= 0; --s) {
      const Index t = this->step_of(s), pr = this->prev_row(s, t), tr = this->cache_row(t);
      this->add_output_grad(dy, s, dh_);
      if (this->drop_h_) hd_ = S_.middleRows(pr, B).cwiseProduct(this->Mh_);  // h' as it entered the step
      // dG_t (and dR_t), dh', and in dh_ the part of dh that masked rows carry through (zero without a mask).
      if (fast)
        step_grads_standard(t, pr, tr);
      else
        step_grads(t, pr, tr);
      if (this->drop_h_)
        dh_ += dhp_.cwiseProduct(this->Mh_);  // dh_{t-1} += dh' .* M_h
      else
        dh_ += dhp_;
    }
    const auto dG = this->all_steps(dG_);
    this->project_backward(x, dG, this->param(0), this->grad(0), dx);  // dW += X^T dG; dX = dG W^T
    auto db = this->grad(2);
    db.row(0) += dG.colwise().sum();  // db += 1^T dG
    if (reset_after_) {
      const auto dR = this->all_steps(dR_);
      db.row(1) += dR.colwise().sum();                     // drb += 1^T dR
      this->recurrent_weight_grad(S_, dR, this->grad(1));  // dU += H'^T dR
    } else {
      auto dU = this->grad(1);
      this->recurrent_weight_grad(S_, dG.leftCols(2 * H), dU.leftCols(2 * H));     // dU_{z,r} += H'^T dG_{z,r}
      detail::tn_mul_acc(this->all_steps(RH_), dG.rightCols(H), dU.rightCols(H));  // dU_h += (r .* H')^T dG_h
    }
  }

 private:
  /// The gate gradients of step t as block expressions, any activations and reset_after, with or without a
  /// mask: dG_t (and dR_t), dh' including its recurrent products, and in dh_ the carried part of dh.
  void step_grads(Index t, Index pr, Index tr) {
    const Index H = this->units(), B = this->B_;
    const Activation act = this->activation(), ract = this->recurrent_activation();
    const auto& U = this->param(1);
    if (this->masked_) {
      this->split_by_mask(t, dh_, dhn_);
    } else {
      dhn_ = dh_;
      dh_.setZero();
    }
    const auto At = G_.middleRows(t * B, B);
    const auto z = At.leftCols(H), r = At.middleCols(H, H), hh = At.rightCols(H);
    auto dGt = dG_.middleRows(t * B, B);
    auto dGz = dGt.leftCols(H), dGr = dGt.middleCols(H, H), dGh = dGt.rightCols(H);
    const auto hp = S_.middleRows(pr, B);
    // h' as it entered the step: hd_, the dropped copy, with recurrent dropout.
    if (this->drop_h_)
      dGz.array() = dhn_.array() * (hd_.array() - hh.array());
    else
      dGz.array() = dhn_.array() * (hp.array() - hh.array());
    detail::mul_activation_grad(ract, dGz, z);  // dG_z = dh .* (h' - hh) .* s'(z)
    dGh.array() = dhn_.array() * (T(1) - z.array());
    detail::mul_activation_grad(act, dGh, hh);  // dG_h = dh .* (1 - z) .* a'(hh)
    dhp_ = dhn_.cwiseProduct(z);                // dh' = dh .* z + ...
    const auto rh = RH_.middleRows(tr, B);
    if (reset_after_) {
      auto dRt = dR_.middleRows(t * B, B);
      dGr = dGh.cwiseProduct(rh);
      detail::mul_activation_grad(ract, dGr, r);  // dG_r = dG_h .* R_h .* s'(r)
      dRt.leftCols(2 * H) = dGt.leftCols(2 * H);
      dRt.rightCols(H) = dGh.cwiseProduct(r);  // dR_h = dG_h .* r
      detail::rec_mul_t_acc(dRt, U, dhp_);     // dh' += dR_t U^T
    } else {
      drh_.setZero();
      detail::rec_mul_t_acc(dGh, U.rightCols(H), drh_);  // d(r .* h') = dG_h U_h^T
      if (this->drop_h_)
        dGr = drh_.cwiseProduct(hd_);
      else
        dGr = drh_.cwiseProduct(hp);
      detail::mul_activation_grad(ract, dGr, r);                            // dG_r = d(r .* h') .* h' .* s'(r)
      dhp_ += drh_.cwiseProduct(r);                                         // dh' += d(r .* h') .* r
      detail::rec_mul_t_acc(dGt.leftCols(2 * H), U.leftCols(2 * H), dhp_);  // dh' += dG_{z,r} U_{z,r}^T
    }
  }

  /// R_t = h' U + rb (reset_after): the recurrent product with the recurrent bias row.
  template <typename DH>
  void recurrent_product(const DH& hp) {
    const auto& bias = this->param(2);
    detail::rec_mul_set(hp, this->param(1), R_, bias.data() + 1, bias.outerStride());
  }

  /// The forward step as block expressions, any activations, either reset mode, with or without a mask
  /// (rows pr: previous state, cr: new state; rh: the step's cache of R_h, or of r .* h' without
  /// reset_after). G_t keeps z, r, hh.
  template <typename DG, typename DH, typename DR>
  void step_block(DG& Gt, const DH& hp, Index t, Index pr, Index cr, DR& rh) {
    const Index H = this->units(), B = this->B_;
    const Activation act = this->activation(), ract = this->recurrent_activation();
    const auto& U = this->param(1);
    if (reset_after_) {
      recurrent_product(hp);  // R_t = h' U + rb
      Gt.leftCols(2 * H) += R_.leftCols(2 * H);
      detail::activate_block(ract, Gt.leftCols(2 * H));
      rh = R_.rightCols(H);
      Gt.rightCols(H).array() += Gt.middleCols(H, H).array() * rh.array();  // G_h + r .* R_h
    } else {
      detail::rec_mul_acc(hp, U.leftCols(2 * H), Gt.leftCols(2 * H));  // G_{z,r} += h' U_{z,r}
      detail::activate_block(ract, Gt.leftCols(2 * H));
      rh = Gt.middleCols(H, H).cwiseProduct(hp);                 // r .* h'
      detail::rec_mul_acc(rh, U.rightCols(H), Gt.rightCols(H));  // G_h += (r .* h') U_h
    }
    detail::activate_block(act, Gt.rightCols(H));
    const auto z = Gt.leftCols(H).array(), hh = Gt.rightCols(H).array();
    auto h = S_.middleRows(cr, B);
    if (!this->masked_) {
      h.array() = z * hp.array() + (T(1) - z) * hh;
    } else {
      hn_.array() = z * hp.array() + (T(1) - z) * hh;
      const auto m = this->mask_of(t).array();
      const auto hprev = S_.middleRows(pr, B);  // a masked row keeps the undropped previous state
      for (Index j = 0; j < H; ++j) h.col(j).array() = m * hn_.col(j).array() + (T(1) - m) * hprev.col(j).array();
    }
  }

  /// Keras' defaults (tanh, sigmoid, reset_after) without a mask: the forward and backward steps run column
  /// by column (step_standard, step_grads_standard); anything else takes the block expressions.
  bool standard_step() const {
    return reset_after_ && !this->masked_ && this->activation() == Activation::Tanh &&
           this->recurrent_activation() == Activation::Sigmoid;
  }

  /// The forward step for Keras' defaults without a mask, h' = h_{t-1} (.* M_h): R_t = h' U + rb, then (in
  /// float in one pass over SIMD packets of rows per unit, detail::gru_cell_fused) per column j of the three
  /// gates, while its B values are in L1: z = sigmoid(G_z + R_z), r = sigmoid(G_r + R_r),
  /// rh = R_h (kept for the backward), hh = tanh(G_h + r .* rh), h = z .* h' + (1 - z) .* hh. G_t keeps
  /// z, r, hh as the block path leaves them.
  template <typename DG, typename DH, typename DR, typename DS>
  void step_standard(DG& Gt, const DH& hprev, DR& rh, DS&& h) {
    const Index H = this->units();
    recurrent_product(hprev);  // R_t = h' U + rb
    if constexpr (detail::fused_step_packets<T>()) {
      const detail::Cols<const T> none{nullptr, 0};
      detail::gru_cell_fused(detail::GruStep<T>{this->B_, H, detail::cols_of(hprev), none, none,
                                                detail::mutable_cols_of(Gt), detail::mutable_cols_of(rh),
                                                detail::mutable_cols_of(h), detail::cols_of(R_)});
      return;
    }
    for (Index j = 0; j < H; ++j) {
      auto z = Gt.col(j).array(), r = Gt.col(H + j).array(), hh = Gt.col(2 * H + j).array();
      auto rhj = rh.col(j).array();
      z = (z + R_.col(j).array()).logistic();
      r = (r + R_.col(H + j).array()).logistic();
      rhj = R_.col(2 * H + j).array();
      hh = (hh + r * rhj).tanh();
      h.col(j).array() = z * hprev.col(j).array() + (T(1) - z) * hh;
    }
  }

  /// The gate gradients of step t for Keras' defaults (tanh, sigmoid, reset_after) without a mask, in one
  /// pass over SIMD packets of each column, with h' = h_{t-1} (.* M_h): dG_z = dh .* (h' - hh) .* z(1-z),
  /// dG_h = dh .* (1 - z) .* (1 - hh^2), dG_r = dG_h .* R_h .* r(1-r), dR_t = [dG_z, dG_r, dG_h .* r],
  /// dh' = dh .* z + dR_t U^T; dh = 0.
  void step_grads_standard(Index t, Index pr, Index tr) {
    namespace ei = Eigen::internal;
    using P = typename ei::packet_traits<T>::type;
    constexpr Index PS = ei::packet_traits<T>::size;
    const Index H = this->units(), B = this->B_;
    const auto A = G_.middleRows(t * B, B);
    const auto rh = RH_.middleRows(tr, B);
    auto dG = dG_.middleRows(t * B, B);
    auto dR = dR_.middleRows(t * B, B);
    const P one = ei::pset1<P>(T(1));
    for (Index j = 0; j < H; ++j) {
      const T *pz = &A.coeffRef(0, j), *pr_ = &A.coeffRef(0, H + j), *phh = &A.coeffRef(0, 2 * H + j),
              *prh = &rh.coeffRef(0, j);
      const T* php = this->drop_h_ ? hd_.col(j).data() : &S_.coeffRef(pr, j);
      T *dgz = &dG.coeffRef(0, j), *dgr = &dG.coeffRef(0, H + j), *dgh = &dG.coeffRef(0, 2 * H + j);
      T *drz = &dR.coeffRef(0, j), *drr = &dR.coeffRef(0, H + j), *drh = &dR.coeffRef(0, 2 * H + j);
      T *dh = dh_.col(j).data(), *dhp = dhp_.col(j).data();
      Index q = 0;
      for (; q + PS <= B; q += PS) {
        const P z = ei::ploadu<P>(pz + q), r = ei::ploadu<P>(pr_ + q), hh = ei::ploadu<P>(phh + q),
                h = ei::ploadu<P>(dh + q);
        const P gz = ei::pmul(ei::pmul(h, ei::psub(ei::ploadu<P>(php + q), hh)), ei::pmul(z, ei::psub(one, z)));
        const P gh = ei::pmul(ei::pmul(h, ei::psub(one, z)), ei::psub(one, ei::pmul(hh, hh)));
        const P gr = ei::pmul(ei::pmul(gh, ei::ploadu<P>(prh + q)), ei::pmul(r, ei::psub(one, r)));
        ei::pstoreu(dgz + q, gz);
        ei::pstoreu(dgr + q, gr);
        ei::pstoreu(dgh + q, gh);
        ei::pstoreu(drz + q, gz);
        ei::pstoreu(drr + q, gr);
        ei::pstoreu(drh + q, ei::pmul(gh, r));
        ei::pstoreu(dhp + q, ei::pmul(h, z));
        ei::pstoreu(dh + q, ei::pset1<P>(T(0)));
      }
      for (; q < B; ++q) {
        const T z = pz[q], r = pr_[q], hh = phh[q], h = dh[q];
        const T gz = h * (php[q] - hh) * (z * (T(1) - z));
        const T gh = h * (T(1) - z) * (T(1) - hh * hh);
        const T gr = gh * prh[q] * (r * (T(1) - r));
        dgz[q] = drz[q] = gz;
        dgr[q] = drr[q] = gr;
        dgh[q] = gh;
        drh[q] = gh * r;
        dhp[q] = h * z;
        dh[q] = T(0);
      }
    }
    detail::rec_mul_t_acc(dR, this->param(1), dhp_);  // dh' += dR_t U^T
  }

  bool reset_after_;
  Matrix<T> G_, S_, RH_, R_, hn_;
  Matrix<T> dG_, dR_, dh_, dhn_, dhp_, drh_;
  using Recurrent<T>::hd_;
};

}  // namespace seqnet
