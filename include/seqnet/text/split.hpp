#pragma once
/// \file
/// A seeded train/validation split of sample indices (the chapter keeps 20% of the training reviews for
/// validation), and helpers that apply it to vectors and tensors.
///
/// With shuffling (the default) the indices 0..n-1 are permuted by a Fisher-Yates shuffle driven by the
/// given Rng; the first n - n_val of the permutation are the training samples, the rest the validation
/// samples, both in permutation order. n_val = round(n * validation_fraction). Without shuffling the last
/// n_val samples are the validation set, as Keras' `validation_split`. The same Rng state gives the same split.

#include "seqnet/core/error.hpp"
#include "seqnet/core/rng.hpp"
#include "seqnet/core/tensor.hpp"
#include "seqnet/core/types.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace seqnet::text {

/// Options of train_validation_split.
struct SplitOptions {
  double validation_fraction = 0.2;  ///< in (0, 1)
  bool shuffle = true;
};

/// Indices of the training and the validation samples (disjoint, together 0..n-1).
struct SplitIndices {
  std::vector<Index> train;
  std::vector<Index> validation;
};

/// Splits the sample indices 0..n-1; see the header comment. Throws InvalidArgument for n < 0 or a
/// fraction outside (0, 1).
inline SplitIndices train_validation_split(Index n, Rng& rng, const SplitOptions& options = {}) {
  if (n < 0) throw InvalidArgument("train_validation_split: negative sample count " + std::to_string(n));
  const double f = options.validation_fraction;
  if (!(f > 0.0 && f < 1.0))
    throw InvalidArgument("train_validation_split: validation_fraction " + std::to_string(f) + " is outside (0, 1)");
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  if (options.shuffle) {
    for (Index i = n - 1; i > 0; --i) {
      const auto j = static_cast<Index>(rng.below(static_cast<std::uint64_t>(i) + 1));
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
    }
  }
  const auto n_val = static_cast<Index>(std::llround(static_cast<double>(n) * f));
  SplitIndices out;
  out.train.assign(order.begin(), order.begin() + (n - n_val));
  out.validation.assign(order.begin() + (n - n_val), order.end());
  return out;
}

/// The elements of `values` at `indices`, in that order. Throws InvalidArgument for an index out of range.
template <typename V>
std::vector<V> take(const std::vector<V>& values, const std::vector<Index>& indices) {
  std::vector<V> out;
  out.reserve(indices.size());
  for (Index i : indices) {
    if (i < 0 || i >= static_cast<Index>(values.size()))
      throw InvalidArgument("take: index " + std::to_string(i) + " outside [0, " + std::to_string(values.size()) + ")");
    out.push_back(values[static_cast<std::size_t>(i)]);
  }
  return out;
}

/// The samples (first axis) of `values` at `indices`, in that order.
template <typename T>
Tensor<T> take(const Tensor<T>& values, const std::vector<Index>& indices) {
  return values.gather(indices);
}

}  // namespace seqnet::text
