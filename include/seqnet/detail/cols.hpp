#pragma once
/// \file
/// Cols: a column-major block given by a pointer to its first entry and its column stride, for the kernels
/// that address their operands directly.

#include "seqnet/core/types.hpp"

#include <Eigen/Core>

namespace seqnet {
namespace detail {

/// A column-major block: entry (r, c) at data[c * stride + r].
template <typename T>
struct Cols {
  T* data;
  Index stride;
  T* col(Index c) const { return data + c * stride; }
};

/// The block `M` (an Eigen block or matrix with direct access, column-major) as Cols.
/// (A row of a column-major matrix is a row-major expression to Eigen, its outerStride() not the column
/// stride: such a row is refused here and is built as Cols by hand.)
template <typename D>
Cols<const typename D::Scalar> cols_of(const Eigen::MatrixBase<D>& M) {
  static_assert(!(D::Flags & Eigen::RowMajorBit), "cols_of takes column-major blocks");
  return {M.derived().data(), M.derived().outerStride()};
}
template <typename D>
Cols<typename D::Scalar> mutable_cols_of(const Eigen::MatrixBase<D>& M) {
  static_assert(!(D::Flags & Eigen::RowMajorBit), "mutable_cols_of takes column-major blocks");
  D& m = const_cast<D&>(M.derived());
  return {m.data(), m.outerStride()};
}

}  // namespace detail
}  // namespace seqnet
