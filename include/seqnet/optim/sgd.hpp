#pragma once
/// \file
/// SGD with optional momentum and Nesterov momentum, with Keras' formulas (tf.keras.optimizers.SGD).
///
/// Per value w with gradient g, learning rate lr, momentum m (state: velocity v, n values, zero at bind):
///   m = 0:               w -= lr g
///   m > 0:               v = m v - lr g;  w += v
///   m > 0, nesterov:     v = m v - lr g;  w += m v - lr g
/// Defaults: lr 0.01, m 0, nesterov false (Keras' defaults).

#include "seqnet/optim/optimizer.hpp"

#include <vector>

namespace seqnet {

struct SGDOptions {
  double learning_rate = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
};

template <typename T>
class SGD final : public Optimizer<T> {
 public:
  explicit SGD(SGDOptions options = {}) : Optimizer<T>(options.learning_rate), opt_(options) {
    this->check_positive("SGD", "learning_rate", opt_.learning_rate);
    this->check_non_negative("SGD", "momentum", opt_.momentum);
  }

  std::string name() const override { return "SGD"; }
  Config config() const override {
    Config c;
    c.set("learning_rate", this->learning_rate());
    c.set("momentum", opt_.momentum);
    c.set("nesterov", opt_.nesterov);
    return c;
  }
  static std::unique_ptr<Optimizer<T>> from_config(const Config& c) {
    return std::make_unique<SGD<T>>(
        SGDOptions{c.get_double("learning_rate"), c.get_double("momentum"), c.get_bool("nesterov")});
  }
  std::unique_ptr<Optimizer<T>> clone() const override {
    SGDOptions o = opt_;
    o.learning_rate = this->learning_rate();
    return std::make_unique<SGD<T>>(o);
  }

  const SGDOptions& options() const { return opt_; }
  /// The velocity v (empty without momentum).
  const std::vector<T>& velocity() const { return v_; }

 protected:
  void do_bind(Index n) override { v_.assign(opt_.momentum > 0.0 ? static_cast<std::size_t>(n) : 0, T(0)); }

  void do_step(T* w, const T* g, Index begin, Index end, Index) override {
    const T lr = static_cast<T>(this->learning_rate());
    const T m = static_cast<T>(opt_.momentum);
    if (opt_.momentum == 0.0) {
      for (Index i = begin; i < end; ++i) w[i] -= lr * g[i];  // w -= lr g
      return;
    }
    T* v = v_.data();
    if (opt_.nesterov) {
      for (Index i = begin; i < end; ++i) {
        const T vi = m * v[i] - lr * g[i];  // v = m v - lr g
        v[i] = vi;
        w[i] += m * vi - lr * g[i];  // w += m v - lr g
      }
    } else {
      for (Index i = begin; i < end; ++i) {
        const T vi = m * v[i] - lr * g[i];  // v = m v - lr g
        v[i] = vi;
        w[i] += vi;  // w += v
      }
    }
  }

 private:
  SGDOptions opt_;
  std::vector<T> v_;
};

}  // namespace seqnet
