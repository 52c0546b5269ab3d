#pragma once
/// \file
/// RMSprop with the formulas of TensorFlow's ApplyRMSProp / ApplyCenteredRMSProp kernels, which are also
/// Keras 3's (keras.optimizers.RMSprop): epsilon is INSIDE the square root.
///
/// Per value w with gradient g (state, n values each, zero at bind: ms always; mom when momentum > 0;
/// mg when centered):
///   ms  = rho ms + (1 - rho) g^2
///   mg  = rho mg + (1 - rho) g                    (centered only)
///   d   = ms + eps            (centered: d = ms - mg^2 + eps)
///   inc = lr g / sqrt(d)
///   momentum = 0:  w -= inc
///   momentum > 0:  mom = momentum mom + inc;  w -= mom
/// Defaults (Keras): lr 0.001, rho 0.9, eps 1e-7, momentum 0, centered false.
///
/// Note: tf.keras 2 (optimizer_v2) without momentum used w -= lr g / (sqrt(ms) + eps) instead; the steps differ
/// by the factor sqrt(ms) / sqrt(ms + eps), close to 1 once ms >> eps but small for tiny gradients.

#include "seqnet/optim/optimizer.hpp"

#include <algorithm>
#include <vector>

namespace seqnet {

struct RMSpropOptions {
  double learning_rate = 0.001;
  double rho = 0.9;
  double epsilon = 1e-7;
  double momentum = 0.0;
  bool centered = false;
};

template <typename T>
class RMSprop final : public Optimizer<T> {
 public:
  explicit RMSprop(RMSpropOptions options = {}) : Optimizer<T>(options.learning_rate), opt_(options) {
    this->check_positive("RMSprop", "learning_rate", opt_.learning_rate);
    this->check_unit_interval("RMSprop", "rho", opt_.rho);
    this->check_positive("RMSprop", "epsilon", opt_.epsilon);
    this->check_non_negative("RMSprop", "momentum", opt_.momentum);
  }

  std::string name() const override { return "RMSprop"; }
  Config config() const override {
    Config c;
    c.set("learning_rate", this->learning_rate());
    c.set("rho", opt_.rho);
    c.set("epsilon", opt_.epsilon);
    c.set("momentum", opt_.momentum);
    c.set("centered", opt_.centered);
    return c;
  }
  static std::unique_ptr<Optimizer<T>> from_config(const Config& c) {
    return std::make_unique<RMSprop<T>>(RMSpropOptions{c.get_double("learning_rate"), c.get_double("rho"),
                                                       c.get_double("epsilon"), c.get_double("momentum"),
                                                       c.get_bool("centered")});
  }
  std::unique_ptr<Optimizer<T>> clone() const override {
    RMSpropOptions o = opt_;
    o.learning_rate = this->learning_rate();
    return std::make_unique<RMSprop<T>>(o);
  }

  const RMSpropOptions& options() const { return opt_; }
  /// The moving average of g^2.
  const std::vector<T>& mean_square() const { return ms_; }

 protected:
  void do_bind(Index n) override {
    const auto sz = static_cast<std::size_t>(n);
    ms_.assign(sz, T(0));
    mom_.assign(opt_.momentum > 0.0 ? sz : 0, T(0));
    mg_.assign(opt_.centered ? sz : 0, T(0));
  }

  // One pass of packets over [begin, end) (detail::packetwise), one of four variants.
  void do_step(T* values, const T* grads, Index begin, Index end, Index) override {
    namespace ei = Eigen::internal;
    using P = typename ei::packet_traits<T>::type;
    const P lr = ei::pset1<P>(static_cast<T>(this->learning_rate()));
    const P rho = ei::pset1<P>(static_cast<T>(opt_.rho)), one_minus_rho = ei::pset1<P>(static_cast<T>(1.0 - opt_.rho));
    const P eps = ei::pset1<P>(static_cast<T>(opt_.epsilon)), momentum = ei::pset1<P>(static_cast<T>(opt_.momentum));
    // ms = rho ms + (1-rho) g^2
    auto mean_square = [&](const P& g, P& ms) {
      ms = ei::padd(ei::pmul(rho, ms), ei::pmul(one_minus_rho, ei::pmul(g, g)));
    };
    // mg = rho mg + (1-rho) g; the denominator sqrt(ms - mg^2 + eps)
    auto centered_denominator = [&](const P& g, const P& ms, P& mg) {
      mg = ei::padd(ei::pmul(rho, mg), ei::pmul(one_minus_rho, g));
      return ei::psqrt(ei::padd(ei::psub(ms, ei::pmul(mg, mg)), eps));
    };
    const bool use_mom = opt_.momentum > 0.0;
    if (opt_.centered && use_mom) {
      detail::packetwise(
          begin, end, grads,
          [&](const P& g, P& w, P& ms, P& mg, P& mom) {
            mean_square(g, ms);
            const P d = centered_denominator(g, ms, mg);
            mom = ei::padd(ei::pmul(momentum, mom), ei::pdiv(ei::pmul(lr, g), d));  // mom = m mom + lr g / d
            w = ei::psub(w, mom);                                                   // w -= mom
          },
          values, ms_.data(), mg_.data(), mom_.data());
    } else if (opt_.centered) {
      detail::packetwise(
          begin, end, grads,
          [&](const P& g, P& w, P& ms, P& mg) {
            mean_square(g, ms);
            const P d = centered_denominator(g, ms, mg);
            w = ei::psub(w, ei::pdiv(ei::pmul(lr, g), d));  // w -= lr g / sqrt(ms - mg^2 + eps)
          },
          values, ms_.data(), mg_.data());
    } else if (use_mom) {
      detail::packetwise(
          begin, end, grads,
          [&](const P& g, P& w, P& ms, P& mom) {
            mean_square(g, ms);
            // mom = m mom + lr g / sqrt(ms + eps); w -= mom
            mom = ei::padd(ei::pmul(momentum, mom), ei::pdiv(ei::pmul(lr, g), ei::psqrt(ei::padd(ms, eps))));
            w = ei::psub(w, mom);
          },
          values, ms_.data(), mom_.data());
    } else {
      detail::packetwise(
          begin, end, grads,
          [&](const P& g, P& w, P& ms) {
            mean_square(g, ms);
            w = ei::psub(w, ei::pdiv(ei::pmul(lr, g), ei::psqrt(ei::padd(ms, eps))));  // w -= lr g / sqrt(ms + eps)
          },
          values, ms_.data());
    }
  }

 private:
  RMSpropOptions opt_;
  std::vector<T> ms_, mom_, mg_;
};

}  // namespace seqnet
