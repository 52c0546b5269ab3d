#pragma once
/// \file
/// LSTM (Keras' LSTM, implementation 2): gate order i, f, c (candidate), o.
///
/// Shapes (T steps, B batch, D inputs, H units; layout of recurrent.hpp):
///   W ("kernel"): D x 4H, U ("recurrent_kernel"): H x 4H, b ("bias"): 1 x 4H, column blocks [i | f | c | o].
///   x_t: B x D, h_t, c_t: B x H, G_t: B x 4H.
/// Forward (s = sigma, the recurrent activation; a = tanh, the activation):
///   G_t = x_t W + b + h_{t-1} U            (x_t W + b for all steps in one GEMM before the loop)
///   i = s(G_i), f = s(G_f), g = a(G_c), o = s(G_o)
///   c_t = f .* c_{t-1} + i .* g;  h_t = o .* a(c_t)
///   with a mask byte 0 at (t, b): h_t, c_t of that row = h_{t-1}, c_{t-1}.
/// Backward (dh, dc: gradients arriving at h_t, c_t; at a masked row they pass through to t-1 unchanged):
///   dc~ = dc + dh .* o .* a'(a(c_t))
///   dG_o = dh .* a(c_t) .* s'(o);  dG_i = dc~ .* g .* s'(i);  dG_c = dc~ .* i .* a'(g);
///   dG_f = dc~ .* c_{t-1} .* s'(f);  dc_{t-1} = dc~ .* f;  dh_{t-1} = dG_t U^T
///   after the loop: dW += X^T dG, db += 1^T dG, dU += H_prev^T dG, dX = dG W^T (one GEMM each).
/// Dropout: x_t .* M_x and h_{t-1} .* M_h (only inside h_{t-1} U) with one mask per sequence (recurrent.hpp).
/// Cache (Mode::Train): G holds the gate activations [i f g o] per step, S the states, C the cells,
///   TC = a(c~_t) of the unmasked new cell per step, the dropped inputs when dropout is on. With Keras'
///   activations and no mask the backward writes dG_t over G_t (one backward per forward).

#include "seqnet/detail/fused_step.hpp"
#include "seqnet/layers/recurrent.hpp"

namespace seqnet {

/// Options of LSTM, with Keras' defaults.
struct LSTMOptions {
  bool return_sequences = false;
  bool go_backwards = false;
  double dropout = 0.0;            ///< fraction of input features dropped (one mask per sequence)
  double recurrent_dropout = 0.0;  ///< fraction of state units dropped in the recurrent product
  Activation activation = Activation::Tanh;
  Activation recurrent_activation = Activation::Sigmoid;
  bool unit_forget_bias = true;  ///< initialise the forget-gate bias to 1
};

template <typename T>
class LSTM final : public Recurrent<T> {
 public:
  /// An LSTM with `units` units.
  explicit LSTM(Index units, LSTMOptions options = {})
      : Recurrent<T>("LSTM",
                     RecurrentSettings{units, options.return_sequences, options.go_backwards, options.dropout,
                                       options.recurrent_dropout, options.activation, options.recurrent_activation}),
        unit_forget_bias_(options.unit_forget_bias) {}

  std::string type_name() const override { return "LSTM"; }
  std::string default_name() const override { return "lstm"; }
  Config config() const override {
    Config c;
    this->write_common_config(c, true);
    c.set("unit_forget_bias", unit_forget_bias_);
    return c;
  }
  /// Recreates an LSTM from config().
  static std::unique_ptr<Layer<T>> from_config(const Config& c) {
    const RecurrentSettings s = Recurrent<T>::read_common_config(c, true);
    LSTMOptions o{s.return_sequences,
                  s.go_backwards,
                  s.dropout,
                  s.recurrent_dropout,
                  s.activation,
                  s.recurrent_activation,
                  c.get_bool("unit_forget_bias")};
    return std::make_unique<LSTM<T>>(s.units, o);
  }
  std::unique_ptr<Layer<T>> clone_unbuilt() const override {
    return std::make_unique<LSTM<T>>(this->units(), options());
  }

  /// The options this layer was made with.
  LSTMOptions options() const {
    const RecurrentSettings& s = this->settings();
    return LSTMOptions{s.return_sequences, s.go_backwards,         s.dropout,        s.recurrent_dropout,
                       s.activation,       s.recurrent_activation, unit_forget_bias_};
  }

 protected:
  Shape do_build(const Shape& in) override {
    const Shape out = this->build_common(in);
    const Index H = this->units();
    this->declare_param("kernel", in.features, 4 * H, Initializer::glorot_uniform());
    this->declare_param("recurrent_kernel", H, 4 * H, Initializer::orthogonal());
    this->declare_param("bias", 1, 4 * H, unit_forget_bias_ ? Initializer::unit_forget_bias(H) : Initializer::zeros());
    return out;
  }

  void do_forward(const SeqBatch<T>& x, SeqBatch<T>& y, Mode mode, Rng* rng) override {
    this->begin_forward(x, mode, rng, {&S_, &C_}, {&TC_});
    const auto& U = this->param(1);
    this->project(x, this->param(0), this->param(2), G_);  // G = X W + b
    const Index B = this->B_, steps = this->T_;
    const bool standard = standard_step();
    [[maybe_unused]] const bool fused = standard && this->units() <= detail::kFusedStepMaxUnits;
    if (!(detail::fused_step_packets<T>() && fused)) Up_.pack(U);  // for h_{t-1} U at every step
    for (Index s = 0; s < steps; ++s) {
      const Index t = this->step_of(s), pr = this->prev_row(s, t), cr = this->cur_row(s, t), tr = this->cache_row(t);
      auto Gt = this->step_gates(x, this->param(0), this->param(2), G_, t);
      if constexpr (detail::fused_step_packets<T>()) {
        if (fused) {
          const auto hp =
              this->drop_h_ ? detail::cols_of(this->dropped_prev(S_, pr)) : detail::cols_of(S_.middleRows(pr, B));
          detail::lstm_step_fused(detail::LstmStep<T>{
              B, this->units(), hp, detail::cols_of(U), detail::mutable_cols_of(Gt),
              detail::cols_of(C_.middleRows(pr, B)), detail::mutable_cols_of(C_.middleRows(cr, B)),
              detail::mutable_cols_of(TC_.middleRows(tr, B)), detail::mutable_cols_of(S_.middleRows(cr, B)), 0});
          this->emit(S_, s, cr, x, y);
          continue;
        }
      }
      if (this->drop_h_)
        detail::rec_mul_acc(this->dropped_prev(S_, pr), Up_, Gt);  // G_t += (h_{t-1} .* M_h) U
      else
        detail::rec_mul_acc(S_.middleRows(pr, B), Up_, Gt);  // G_t += h_{t-1} U
      if (standard)
        cell_update_standard(Gt, pr, cr, tr, s + 1 < steps && this->train_ ? cr - pr : 0);
      else
        cell_update(Gt, t, pr, cr, tr);
      this->emit(S_, s, cr, x, y);
    }
  }

  void do_backward(const SeqBatch<T>& x, const SeqBatch<T>& dy, SeqBatch<T>& dx) override {
    const Index H = this->units(), B = this->B_, steps = this->T_;
    const auto& U = this->param(1);
    const bool standard = standard_step();
    // Keras' activations without a mask: dG_t overwrites the gates of step t in G_, which the step reads
    // just before (the backward uses up the forward's cache); otherwise dG gets a matrix of its own.
    Matrix<T>& dGm = standard ? G_ : dG_;
    if (!standard) this->resize_steps(dG_, steps * B, 4 * H);
    dh_.setZero(B, H);
    dc_.setZero(B, H);
    dct_.resize(B, H);
    if (this->masked_) {
      dhn_.resize(B, H);
      dcn_.resize(B, H);
    }
    if (this->drop_h_) tmp_.resize(B, H);
    if (standard) dbp_.setZero(Eigen::internal::packet_traits<T>::size, 4 * H);
    Up_.pack_transposed(U);  // for dG_t U^T at every step
    const bool by_step = this->scatters_by_step(x);
    if (by_step) this->begin_step_scatter(4 * H);
    for (Index s = steps - 1; s >= 0; --s) {
      const Index t = this->step_of(s), pr = this->prev_row(s, t), tr = this->cache_row(t);
      this->add_output_grad(dy, s, dh_);
      const auto At = G_.middleRows(t * B, B);
      auto dGt = dGm.middleRows(t * B, B);
      const auto tc = TC_.middleRows(tr, B);
      const auto cp = C_.middleRows(pr, B);
      // dG_t and dc_{t-1}; dh_ keeps only what a masked row carries through (zero without a mask).
      if (standard)
        gate_grads_standard(At, tc, cp, dGt);
      else
        gate_grads(t, At, tc, cp, dGt);
      if (by_step) this->scatter_step(t, dGt);  // dP[slots_t] += dG_t
      if (this->drop_h_) {
        tmp_.setZero();
        detail::rec_mul_acc(dGt, Up_, tmp_);
        dh_ += tmp_.cwiseProduct(this->Mh_);  // dh_{t-1} += (dG_t U^T) .* M_h
      } else {
        detail::rec_mul_acc(dGt, Up_, dh_);  // dh_{t-1} += dG_t U^T
      }
    }
    const auto dG = this->all_steps(dGm);
    this->project_backward(x, dG, this->param(0), this->grad(0), dx, by_step);  // dW += X^T dG; dX = dG W^T
    if (standard)
      this->grad(2) += dbp_.colwise().sum();  // db += 1^T dG, from the sums gate_grads_standard kept
    else
      this->grad(2) += dG.colwise().sum();               // db += 1^T dG
    this->recurrent_weight_grad(S_, dG, this->grad(1));  // dU += H_prev^T dG
  }

 private:
  /// Keras' activations and no mask: the step runs as one pass over each column (cell_update_standard,
  /// gate_grads_standard); anything else takes the block expressions (cell_update, gate_grads).
  bool standard_step() const {
    return !this->masked_ && this->activation() == Activation::Tanh &&
           this->recurrent_activation() == Activation::Sigmoid;
  }

  /// The gates and the cell update of step t (rows pr: previous state, cr: new state, tr: cell cache), any
  /// activations, with or without a mask, as block expressions.
  template <typename DG>
  void cell_update(DG& Gt, Index t, Index pr, Index cr, Index tr) {
    const Index H = this->units(), B = this->B_;
    const Activation act = this->activation(), ract = this->recurrent_activation();
    detail::activate_block(ract, Gt.leftCols(2 * H));
    detail::activate_block(act, Gt.middleCols(2 * H, H));
    detail::activate_block(ract, Gt.rightCols(H));
    const auto i = Gt.leftCols(H).array(), f = Gt.middleCols(H, H).array(), g = Gt.middleCols(2 * H, H).array(),
               o = Gt.rightCols(H).array();
    const auto cp = C_.middleRows(pr, B).array();
    auto c = C_.middleRows(cr, B).array();
    auto tc = TC_.middleRows(tr, B).array();
    auto h = S_.middleRows(cr, B).array();
    if (!this->masked_) {
      c = f * cp + i * g;
      tc = c;
      detail::activate_block(act, TC_.middleRows(tr, B));
      h = o * tc;
    } else {
      const auto m = this->mask_of(t).array();
      const auto hp = S_.middleRows(pr, B).array();
      tc = f * cp + i * g;  // the new cell before the mask
      for (Index j = 0; j < H; ++j) c.col(j) = m * tc.col(j) + (T(1) - m) * cp.col(j);
      detail::activate_block(act, TC_.middleRows(tr, B));
      for (Index j = 0; j < H; ++j) h.col(j) = m * (o.col(j) * tc.col(j)) + (T(1) - m) * hp.col(j);
    }
  }

  /// The same for Keras' activations without a mask, after the recurrent product has been added to G_t: in
  /// float one pass over SIMD packets of rows per unit (detail::lstm_cell_fused), otherwise the whole cell
  /// update column by column, each column's B values contiguous and still in L1 from the recurrent product.
  template <typename DG>
  void cell_update_standard(DG& Gt, Index pr, Index cr, Index tr, Index ahead) {
    const Index H = this->units(), B = this->B_;
    if constexpr (detail::fused_step_packets<T>()) {
      const detail::Cols<const T> none{nullptr, 0};
      detail::lstm_cell_fused(detail::LstmStep<T>{
          B, H, none, none, detail::mutable_cols_of(Gt), detail::cols_of(C_.middleRows(pr, B)),
          detail::mutable_cols_of(C_.middleRows(cr, B)), detail::mutable_cols_of(TC_.middleRows(tr, B)),
          detail::mutable_cols_of(S_.middleRows(cr, B)), ahead});
      return;
    }
    for (Index j = 0; j < H; ++j) {
      auto i = Gt.col(j).array(), f = Gt.col(H + j).array(), g = Gt.col(2 * H + j).array(),
           o = Gt.col(3 * H + j).array();
      i = i.logistic();
      f = f.logistic();
      g = g.tanh();
      o = o.logistic();
      auto c = C_.middleRows(cr, B).col(j).array();
      auto tc = TC_.middleRows(tr, B).col(j).array();
      c = f * C_.middleRows(pr, B).col(j).array() + i * g;
      tc = c.tanh();
      S_.middleRows(cr, B).col(j).array() = o * tc;
    }
  }

  /// The gate gradients of step t as block expressions, any activations, with or without a mask: dG_t,
  /// dc_{t-1}, and in dh_ the part of dh that masked rows carry through (zero without a mask).
  template <typename DA, typename DT, typename DC, typename DG>
  void gate_grads(Index t, const DA& At, const DT& tc, const DC& cp, DG& dGt) {
    const Index H = this->units();
    const Activation act = this->activation(), ract = this->recurrent_activation();
    const auto i = At.leftCols(H), f = At.middleCols(H, H), g = At.middleCols(2 * H, H), o = At.rightCols(H);
    if (this->masked_) {
      this->split_by_mask(t, dh_, dhn_);
      this->split_by_mask(t, dc_, dcn_);
    }
    const Matrix<T>& dhn = this->masked_ ? dhn_ : dh_;
    const Matrix<T>& dcn = this->masked_ ? dcn_ : dc_;
    dct_ = dhn.cwiseProduct(o);
    detail::mul_activation_grad(act, dct_, tc);
    dct_ += dcn;  // dc~ = dc + dh .* o .* a'(a(c))
    auto dGi = dGt.leftCols(H), dGf = dGt.middleCols(H, H), dGc = dGt.middleCols(2 * H, H), dGo = dGt.rightCols(H);
    dGo = dhn.cwiseProduct(tc);
    detail::mul_activation_grad(ract, dGo, o);  // dG_o = dh .* a(c) .* s'(o)
    dGi = dct_.cwiseProduct(g);
    detail::mul_activation_grad(ract, dGi, i);  // dG_i = dc~ .* g .* s'(i)
    dGc = dct_.cwiseProduct(i);
    detail::mul_activation_grad(act, dGc, g);  // dG_c = dc~ .* i .* a'(g)
    dGf = dct_.cwiseProduct(cp);
    detail::mul_activation_grad(ract, dGf, f);  // dG_f = dc~ .* c_{t-1} .* s'(f)
    if (this->masked_)
      dc_ += dct_.cwiseProduct(f);  // dc_{t-1} = carried + dc~ .* f
    else
      dc_ = dct_.cwiseProduct(f);  // dc_{t-1} = dc~ .* f
    if (!this->masked_) dh_.setZero();
  }

  /// The gate gradients of one step for Keras' activations without a mask, in one pass over SIMD packets of
  /// each column: dc~ = dh .* o .* (1 - tanh(c)^2) + dc, dG_o = dh .* tanh(c) .* o(1-o),
  /// dG_i = dc~ .* g .* i(1-i), dG_c = dc~ .* i .* (1-g^2), dG_f = dc~ .* c_{t-1} .* f(1-f), then
  /// dc_{t-1} = dc~ .* f and dh = 0 (the recurrent product adds dh_{t-1} into it); adds each gate column's
  /// sum over the rows into dbp_ (db). dG may be A itself: a row packet is read whole before it is written.
  template <typename DA, typename DT, typename DC, typename DG>
  void gate_grads_standard(const DA& A, const DT& tc, const DC& cp, DG& dG) {
    namespace ei = Eigen::internal;
    using P = typename ei::packet_traits<T>::type;
    constexpr Index PS = ei::packet_traits<T>::size;
    const Index H = this->units(), B = this->B_;
    const P one = ei::pset1<P>(T(1));
    for (Index j = 0; j < H; ++j) {
      const T *pi = &A.coeffRef(0, j), *pf = &A.coeffRef(0, H + j), *pg = &A.coeffRef(0, 2 * H + j),
              *po = &A.coeffRef(0, 3 * H + j), *ptc = &tc.coeffRef(0, j), *pcp = &cp.coeffRef(0, j);
      T *dgi = &dG.coeffRef(0, j), *dgf = &dG.coeffRef(0, H + j), *dgc = &dG.coeffRef(0, 2 * H + j),
        *dgo = &dG.coeffRef(0, 3 * H + j);
      T *dh = dh_.col(j).data(), *dc = dc_.col(j).data();
      // Running sums of the four gate gradients over the rows (db), one packet per gate column.
      T *sbi = dbp_.col(j).data(), *sbf = dbp_.col(H + j).data(), *sbc = dbp_.col(2 * H + j).data(),
        *sbo = dbp_.col(3 * H + j).data();
      P si = ei::ploadu<P>(sbi), sf = ei::ploadu<P>(sbf), sc = ei::ploadu<P>(sbc), so = ei::ploadu<P>(sbo);
      Index r = 0;
      for (; r + PS <= B; r += PS) {
        const P i = ei::ploadu<P>(pi + r), f = ei::ploadu<P>(pf + r), g = ei::ploadu<P>(pg + r),
                o = ei::ploadu<P>(po + r), c = ei::ploadu<P>(ptc + r), h = ei::ploadu<P>(dh + r);
        const P dct = ei::padd(ei::pmul(ei::pmul(h, o), ei::psub(one, ei::pmul(c, c))), ei::ploadu<P>(dc + r));
        const P go = ei::pmul(ei::pmul(h, c), ei::pmul(o, ei::psub(one, o)));
        const P gi = ei::pmul(ei::pmul(dct, g), ei::pmul(i, ei::psub(one, i)));
        const P gc = ei::pmul(ei::pmul(dct, i), ei::psub(one, ei::pmul(g, g)));
        const P gf = ei::pmul(ei::pmul(dct, ei::ploadu<P>(pcp + r)), ei::pmul(f, ei::psub(one, f)));
        ei::pstoreu(dgo + r, go);
        ei::pstoreu(dgi + r, gi);
        ei::pstoreu(dgc + r, gc);
        ei::pstoreu(dgf + r, gf);
        si = ei::padd(si, gi);
        sf = ei::padd(sf, gf);
        sc = ei::padd(sc, gc);
        so = ei::padd(so, go);
        ei::pstoreu(dc + r, ei::pmul(dct, f));
        ei::pstoreu(dh + r, ei::pset1<P>(T(0)));
      }
      ei::pstoreu(sbi, si);
      ei::pstoreu(sbf, sf);
      ei::pstoreu(sbc, sc);
      ei::pstoreu(sbo, so);
      for (; r < B; ++r) {
        const T i = pi[r], f = pf[r], g = pg[r], o = po[r], c = ptc[r], h = dh[r];
        const T dct = h * o * (T(1) - c * c) + dc[r];
        dgo[r] = h * c * (o * (T(1) - o));
        dgi[r] = dct * g * (i * (T(1) - i));
        dgc[r] = dct * i * (T(1) - g * g);
        dgf[r] = dct * pcp[r] * (f * (T(1) - f));
        sbi[0] += dgi[r];
        sbf[0] += dgf[r];
        sbc[0] += dgc[r];
        sbo[0] += dgo[r];
        dc[r] = dct * f;
        dh[r] = T(0);
      }
    }
  }

  bool unit_forget_bias_;
  Matrix<T> G_, S_, C_, TC_;
  Matrix<T> dG_, dh_, dc_, dct_, dhn_, dcn_, tmp_;
  detail::PackedRhs<T> Up_;  // U packed for the forward's per-step product, U^T for the backward's
  Matrix<T> dbp_;            // packet-wide running sums of dG per gate column (db), in the standard backward
};

}  // namespace seqnet
