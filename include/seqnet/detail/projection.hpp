#pragma once
/// \file
/// The input projection shared by Dense and the recurrent layers: G = X W + b over all rows (all steps of
/// all samples) at once. For Dense input it is one GEMM; for one-hot input (ids standing for one-hot
/// vectors) the product of a one-hot row with W is a row of W, so it is a gather, and dW += X^T dG is a
/// scatter-add. Ids are checked here: an id that is not an integer in [0, depth) is an error that names the
/// id, the sample and the step.

#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"

#include <cmath>
#include <cstdio>
#include <string>

namespace seqnet {
namespace detail {

/// Converts the id stored at row `row` of a batch to an index in [0, depth), or throws naming it.
template <typename T>
inline Index checked_id(T v, Index depth, Index row, Index batch, const std::string& where) {
  if (!(v >= T(0)) || !(v < static_cast<T>(depth)) || v != std::floor(v)) {
    const Index t = batch > 0 ? row / batch : 0, b = batch > 0 ? row % batch : 0;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(v));
    throw InvalidArgument(where + "token id " + buf + " at sample " + std::to_string(b) + ", step " +
                          std::to_string(t) + " is outside [0, " + std::to_string(depth) + ")");
  }
  return static_cast<Index>(v);
}

/// Checks every id of a batch (call once per forward, before the gather loops).
template <typename T>
inline void check_ids(const SeqBatch<T>& x, Index depth, const std::string& where) {
  const Index rows = x.values.rows();
  const T* v = x.values.data();
  for (Index r = 0; r < rows; ++r) checked_id(v[r], depth, r, x.batch, where);
}

/// G = X W (+ b): G is resized to rows x W.cols(). X is dense or one-hot ids (already checked).
template <typename T, typename DerivedW, typename DerivedB>
inline void project_input(const SeqBatch<T>& x, const Eigen::MatrixBase<DerivedW>& W,
                          const Eigen::MatrixBase<DerivedB>& b, Matrix<T>& G) {
  const Index rows = x.values.rows();
  G.resize(rows, W.cols());
  if (x.shape.encoding == Encoding::OneHot) {
    const T* ids = x.values.data();
    for (Index j = 0; j < W.cols(); ++j) {
      T* g = G.col(j).data();
      const T bj = b(0, j);
      for (Index r = 0; r < rows; ++r) g[r] = W(static_cast<Index>(ids[r]), j) + bj;
    }
  } else {
    G.noalias() = x.values * W;
    G.rowwise() += b.row(0);
  }
}

/// dW += X^T dG for dense or one-hot X.
template <typename T, typename DerivedW>
inline void project_input_backward(const SeqBatch<T>& x, const Matrix<T>& dG, Eigen::MatrixBase<DerivedW>& dW) {
  if (x.shape.encoding == Encoding::OneHot) {
    const T* ids = x.values.data();
    const Index rows = x.values.rows();
    for (Index j = 0; j < dG.cols(); ++j) {
      const T* g = dG.col(j).data();
      for (Index r = 0; r < rows; ++r) dW(static_cast<Index>(ids[r]), j) += g[r];
    }
  } else {
    dW.noalias() += x.values.transpose() * dG;
  }
}

}  // namespace detail
}  // namespace seqnet
