#pragma once
/// \file
/// A vectorised test that an array holds no NaN and no infinity.

#include "seqnet/core/types.hpp"

#include <Eigen/Core>

#include <cmath>

namespace seqnet {
namespace detail {

/// True when each of p[0..n) is finite. x - x is +0 for a finite x and NaN for NaN or an infinity, and a sum
/// with a NaN term is NaN: so one vectorised reduction answers (Eigen's allFinite() compares value by value
/// in scalar code; over a training step's parameters it cost as much as the optimizer's update).
template <typename T>
inline bool all_finite(const T* p, Index n) {
#ifdef __FAST_MATH__
  for (Index i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
#else
  if (n <= 0) return true;
  const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1> > a(p, n);
  return (a - a).sum() == T(0);
#endif
}

}  // namespace detail
}  // namespace seqnet
