#pragma once
/// \file
/// Adam in TensorFlow's form (ApplyAdam; Keras' keras.optimizers.Adam), epsilon OUTSIDE the square root and
/// the bias correction folded into the step size.
///
/// At step t (1-based, advanced once per step() for ALL parameters), per value w with gradient g
/// (state m, v: n values each, zero at bind):
///   lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)
///   m = b1 m + (1 - b1) g
///   v = b2 v + (1 - b2) g^2
///   w -= lr_t m / (sqrt(v) + eps)
/// Defaults (Keras): lr 0.001, b1 0.9, b2 0.999, eps 1e-7.

#include "seqnet/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace seqnet {

struct AdamOptions {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
};

template <typename T>
class Adam final : public Optimizer<T> {
 public:
  explicit Adam(AdamOptions options = {}) : Optimizer<T>(options.learning_rate), opt_(options) {
    this->check_positive("Adam", "learning_rate", opt_.learning_rate);
    this->check_unit_interval("Adam", "beta_1", opt_.beta_1);
    this->check_unit_interval("Adam", "beta_2", opt_.beta_2);
    this->check_positive("Adam", "epsilon", opt_.epsilon);
  }

  std::string name() const override { return "Adam"; }
  Config config() const override {
    Config c;
    c.set("learning_rate", this->learning_rate());
    c.set("beta_1", opt_.beta_1);
    c.set("beta_2", opt_.beta_2);
    c.set("epsilon", opt_.epsilon);
    return c;
  }
  static std::unique_ptr<Optimizer<T>> from_config(const Config& c) {
    return std::make_unique<Adam<T>>(AdamOptions{c.get_double("learning_rate"), c.get_double("beta_1"),
                                                 c.get_double("beta_2"), c.get_double("epsilon")});
  }
  std::unique_ptr<Optimizer<T>> clone() const override {
    AdamOptions o = opt_;
    o.learning_rate = this->learning_rate();
    return std::make_unique<Adam<T>>(o);
  }

  const AdamOptions& options() const { return opt_; }
  /// First and second moment estimates.
  const std::vector<T>& m() const { return m_; }
  const std::vector<T>& v() const { return v_; }

 protected:
  void do_bind(Index n) override {
    m_.assign(static_cast<std::size_t>(n), T(0));
    v_.assign(static_cast<std::size_t>(n), T(0));
  }

  // One pass of packets over [begin, end) (detail::packetwise): all three statements per packet of values.
  void do_step(T* values, const T* grads, Index begin, Index end, Index t) override {
    namespace ei = Eigen::internal;
    using P = typename ei::packet_traits<T>::type;
    const double td = static_cast<double>(t);
    // lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), in double: b^t for large t underflows gracefully to 0.
    const P lr_t = ei::pset1<P>(static_cast<T>(this->learning_rate() * std::sqrt(1.0 - std::pow(opt_.beta_2, td)) /
                                               (1.0 - std::pow(opt_.beta_1, td))));
    const P b1 = ei::pset1<P>(static_cast<T>(opt_.beta_1)), c1 = ei::pset1<P>(static_cast<T>(1.0 - opt_.beta_1));
    const P b2 = ei::pset1<P>(static_cast<T>(opt_.beta_2)), c2 = ei::pset1<P>(static_cast<T>(1.0 - opt_.beta_2));
    const P eps = ei::pset1<P>(static_cast<T>(opt_.epsilon));
    detail::packetwise(
        begin, end, grads,
        [&](const P& g, P& w, P& m, P& v) {
          m = ei::padd(ei::pmul(b1, m), ei::pmul(c1, g));                             // m = b1 m + (1-b1) g
          v = ei::padd(ei::pmul(b2, v), ei::pmul(c2, ei::pmul(g, g)));                // v = b2 v + (1-b2) g^2
          w = ei::psub(w, ei::pdiv(ei::pmul(lr_t, m), ei::padd(ei::psqrt(v), eps)));  // w -= lr_t m / (sqrt(v) + eps)
        },
        values, m_.data(), v_.data());
  }

 private:
  AdamOptions opt_;
  std::vector<T> m_, v_;
};

}  // namespace seqnet
