#pragma once
/// \file
/// Optimizer<T>: the interface of SGD, RMSprop and Adam.
///
/// An optimizer is bound ONCE to the length n of the flat parameter array of a model (bind(n)); its state
/// (moments, velocities) is flat arrays of n values indexed like the parameters. step(values, grads) updates
/// all n values with one pass of flat loops and advances the step counter ONCE, so Adam's bias correction
/// counts optimizer steps, not parameter tensors.
///
///   bind(n)             state := zeros(n), iterations := 0
///   step(w, g)          t := iterations + 1; do_step(w, g, 0, n, t); iterations := t
///   step(w, g, split)   the same, with do_step called once per piece [begin, end) of [0, n) that `split`
///                       hands out (Sequential runs the pieces on its threads)
///
/// The update is element-wise: value i changes from its gradient and its own state only, so any partition of
/// [0, n) gives the same result. The public functions are non-virtual and check their arguments; subclasses
/// implement do_bind and do_step.

#include "seqnet/core/config.hpp"
#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace seqnet {

template <typename T>
class Optimizer {
  static_assert(std::is_floating_point<T>::value, "seqnet: the scalar type must be float or double");

 public:
  virtual ~Optimizer() = default;

  /// Keras' class name: "SGD", "RMSprop" or "Adam".
  virtual std::string name() const = 0;
  /// Every hyper-parameter (learning_rate first), enough to recreate the optimizer.
  virtual Config config() const = 0;
  /// A new optimizer with the same settings (including the current learning rate) and fresh, unbound state.
  virtual std::unique_ptr<Optimizer<T>> clone() const = 0;

  /// Sizes the state for n values (all zeros) and resets the step counter.
  void bind(Index n) {
    if (n < 0) throw InvalidArgument(name() + ": cannot bind to " + std::to_string(n) + " values");
    do_bind(n);
    size_ = n;
    iterations_ = 0;
    bound_ = true;
  }

  /// Updates all size() values from their gradients; the step counter advances once.
  void step(T* values, const T* grads) {
    step(values, grads, [this](const auto& update) { update(Index(0), size_); });
  }

  /// The same update in pieces: split(update) must call update(begin, end) once for each piece of a partition
  /// of [0, size()), in any order, possibly from several threads at once (the pieces touch disjoint values
  /// and state). The step counter advances once.
  template <typename Split>
  void step(T* values, const T* grads, Split&& split) {
    if (!bound_) throw StateError(name() + ": step() called before bind()");
    if (size_ > 0 && (values == nullptr || grads == nullptr))
      throw InvalidArgument(name() + ": step() needs non-null value and gradient arrays");
    const Index t = iterations_ + 1;
    split([&](Index begin, Index end) {
      if (!(0 <= begin && begin <= end && end <= size_))
        throw InvalidArgument(name() + ": step(): piece [" + std::to_string(begin) + ", " + std::to_string(end) +
                              ") is outside [0, " + std::to_string(size_) + ")");
      do_step(values, grads, begin, end, t);
    });
    iterations_ = t;
  }

  /// Steps taken since bind().
  Index iterations() const { return iterations_; }
  /// Number of values the optimizer is bound to (0 before bind()).
  Index size() const { return size_; }
  bool bound() const { return bound_; }

  double learning_rate() const { return learning_rate_; }
  /// Changes the learning rate (for schedules); it must be finite and > 0.
  void set_learning_rate(double lr) {
    check_positive(name(), "learning_rate", lr);
    learning_rate_ = lr;
  }

 protected:
  explicit Optimizer(double learning_rate) : learning_rate_(learning_rate) {}
  Optimizer(const Optimizer&) = default;
  Optimizer& operator=(const Optimizer&) = default;

  /// Sizes the state arrays for n values, filled with zeros.
  virtual void do_bind(Index n) = 0;
  /// Updates values[begin, end) from grads[begin, end) and the state at the same indices; t is the 1-based
  /// number of this step. Called concurrently for disjoint ranges.
  virtual void do_step(T* values, const T* grads, Index begin, Index end, Index t) = 0;

  // Argument checks shared by the optimizers; `who` is the optimizer's name.
  static void check_positive(const std::string& who, const char* what, double v) {
    if (!(std::isfinite(v) && v > 0.0))
      throw InvalidArgument(who + ": " + what + " must be finite and > 0, got " + fmt(v));
  }
  static void check_unit_interval(const std::string& who, const char* what, double v) {
    if (!(v >= 0.0 && v < 1.0)) throw InvalidArgument(who + ": " + what + " must be in [0, 1), got " + fmt(v));
  }
  static void check_non_negative(const std::string& who, const char* what, double v) {
    if (!(std::isfinite(v) && v >= 0.0))
      throw InvalidArgument(who + ": " + what + " must be finite and >= 0, got " + fmt(v));
  }
  static std::string fmt(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }

 private:
  double learning_rate_;
  Index size_ = 0;
  Index iterations_ = 0;
  bool bound_ = false;
};

namespace detail {
template <typename P, typename F, std::size_t... I>
inline void call_on_packets(F& f, const P& g, P* a, std::index_sequence<I...>) {
  f(g, a[I]...);
}

/// Element-wise update of optimizer state over [begin, end), one SIMD packet at a time: f(g, a...) gets the
/// packet of gradients and a reference to the packet of each array (in the order given), and updates them.
/// Every value goes through the same packet code, the last partial packet too (copied into zero-padded packets
/// and back), so a value's result depends neither on the arrays' addresses nor on where a piece of a partition
/// starts. Eigen's array expressions would send the values before the first aligned address and after the
/// last whole packet through scalar code, whose square root and rounding differ from the packet code's (with AVX
/// or AVX-512, Eigen's packet square root is a reciprocal square root estimate refined by a Newton step): two models
/// trained alike would then end up apart by a few ulps, depending on where the allocator put their arrays.
template <typename T, typename F, typename... A>
void packetwise(Index begin, Index end, const T* g, F&& f, A*... arrays) {
  static_assert(sizeof...(A) > 0 && (std::is_same<A, T>::value && ...), "packetwise: arrays of T");
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr Index PS = ei::packet_traits<T>::size;
  constexpr std::size_t N = sizeof...(A);
  T* const ptr[N] = {arrays...};
  P v[N];
  Index i = begin;
  for (; i + PS <= end; i += PS) {
    const P gp = ei::ploadu<P>(g + i);
    for (std::size_t k = 0; k < N; ++k) v[k] = ei::ploadu<P>(ptr[k] + i);
    call_on_packets(f, gp, v, std::make_index_sequence<N>{});
    for (std::size_t k = 0; k < N; ++k) ei::pstoreu(ptr[k] + i, v[k]);
  }
  if (i == end) return;
  const Index r = end - i;
  T gb[PS] = {};
  T ab[N][PS] = {};
  std::copy(g + i, g + end, gb);
  for (std::size_t k = 0; k < N; ++k) {
    std::copy(ptr[k] + i, ptr[k] + end, ab[k]);
    v[k] = ei::ploadu<P>(ab[k]);
  }
  call_on_packets(f, ei::ploadu<P>(gb), v, std::make_index_sequence<N>{});
  for (std::size_t k = 0; k < N; ++k) {
    ei::pstoreu(ab[k], v[k]);
    std::copy(ab[k], ab[k] + r, ptr[k] + i);
  }
}
}  // namespace detail

}  // namespace seqnet
