#pragma once
/// \file
/// Gradient clipping on the flat gradient array of a model (Keras' global_clipnorm and clipvalue).
///
///   global_norm(g)            ||g||_2 = sqrt(sum_i g_i^2)   (accumulated in double, rescaled if the squares overflow)
///   clip_by_global_norm(g, c) g *= c / max(||g||, c)         (tf.clip_by_global_norm; no-op when ||g|| <= c)
///   clip_by_value(g, c)       g_i = min(max(g_i, -c), c)
///
/// A gradient whose norm is not finite cannot be rescaled meaningfully: clip_by_global_norm throws
/// NumericError instead of writing NaNs into it, so the weights stay finite.

#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace seqnet {

namespace detail {
inline void check_clip_args(const char* who, const void* g, Index n) {
  if (n < 0) throw InvalidArgument(std::string(who) + ": negative length " + std::to_string(n));
  if (n > 0 && g == nullptr) throw InvalidArgument(std::string(who) + ": null gradient array");
}
inline void check_clip_limit(const char* who, const char* what, double v) {
  if (!(std::isfinite(v) && v > 0.0)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    throw InvalidArgument(std::string(who) + ": " + what + " must be finite and > 0, got " + buf);
  }
}
}  // namespace detail

/// The Euclidean norm of the n gradient values (infinite or NaN if any value is).
template <typename T>
double global_norm(const T* g, Index n) {
  detail::check_clip_args("global_norm", g, n);
  // Four independent double accumulators: exact enough for millions of values, and the compiler may
  // vectorise them (one accumulator would serialise the additions).
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  const Index n4 = n - n % 4;
  for (Index i = 0; i < n4; i += 4) {
    const double a0 = static_cast<double>(g[i]), a1 = static_cast<double>(g[i + 1]);
    const double a2 = static_cast<double>(g[i + 2]), a3 = static_cast<double>(g[i + 3]);
    s0 += a0 * a0;
    s1 += a1 * a1;
    s2 += a2 * a2;
    s3 += a3 * a3;
  }
  for (Index i = n4; i < n; ++i) s0 += static_cast<double>(g[i]) * static_cast<double>(g[i]);
  const double sum = (s0 + s1) + (s2 + s3);
  if (std::isfinite(sum)) return std::sqrt(sum);
  // The squares overflowed (double gradients above ~1e154) or a value is not finite: rescale by the largest
  // magnitude, so finite gradients always have a finite norm (unless the norm itself exceeds DBL_MAX).
  double big = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double a = std::abs(static_cast<double>(g[i]));
    if (!(a <= big)) big = a;  // also picks up NaN and infinity
  }
  if (!std::isfinite(big)) return big;
  double scaled = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double a = static_cast<double>(g[i]) / big;
    scaled += a * a;
  }
  return big * std::sqrt(scaled);
}

/// Rescales g so that its global norm is at most max_norm (g *= max_norm / norm when norm > max_norm).
template <typename T>
void clip_by_global_norm(T* g, Index n, double max_norm) {
  detail::check_clip_limit("clip_by_global_norm", "max_norm", max_norm);
  const double norm = global_norm(g, n);
  if (!std::isfinite(norm))
    throw NumericError("clip_by_global_norm: the gradient norm is not finite (NaN or infinite gradients)");
  if (norm <= max_norm) return;
  const T factor = static_cast<T>(max_norm / norm);
  for (Index i = 0; i < n; ++i) g[i] *= factor;  // g *= c / ||g||
}

/// Clamps every gradient value to [-limit, limit].
template <typename T>
void clip_by_value(T* g, Index n, double limit) {
  detail::check_clip_limit("clip_by_value", "limit", limit);
  detail::check_clip_args("clip_by_value", g, n);
  // A limit beyond T's range clips nothing (and must not be converted to T). (g == nullptr implies n == 0
  // here; the test lets GCC see that the loop never reads through a null pointer.)
  if (n == 0 || g == nullptr || limit >= static_cast<double>(std::numeric_limits<T>::max())) return;
  const T c = static_cast<T>(limit);
  for (Index i = 0; i < n; ++i) g[i] = g[i] > c ? c : (g[i] < -c ? -c : g[i]);
}

}  // namespace seqnet
