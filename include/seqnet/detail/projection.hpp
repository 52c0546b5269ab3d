#pragma once
/// \file
/// The input projection shared by Dense and the recurrent layers: G = X W + b over all rows (all steps of
/// all samples) at once. For Dense input it is one GEMM; for one-hot input (ids standing for one-hot
/// vectors) the product of a one-hot row with W is a row of W, so it is a gather, and dW += X^T dG is a
/// scatter-add. Ids are read once per forward (read_ids): an id that is not an integer in [0, depth) is an
/// error that names the id, the sample and the step; the gather and scatter loops then use the int32 ids.

#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"
#include "seqnet/detail/gemm_kernel.hpp"
#include "seqnet/detail/tiles.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace seqnet {
namespace detail {

/// True when the value v is an id below `limit`: an integer in [0, limit) (false for NaN).
template <typename T>
inline bool is_id(T v, T limit) {
  return v >= T(0) && v < limit && v == std::floor(v);
}

/// Converts the id stored at row `row` of a batch to an index in [0, depth), or throws naming it.
template <typename T>
inline Index checked_id(T v, Index depth, Index row, Index batch, const std::string& where) {
  if (!is_id(v, static_cast<T>(depth))) {
    const Index t = batch > 0 ? row / batch : 0, b = batch > 0 ? row % batch : 0;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(v));
    throw InvalidArgument(where + "token id " + buf + " at sample " + std::to_string(b) + ", step " +
                          std::to_string(t) + " is outside [0, " + std::to_string(depth) + ")");
  }
  return static_cast<Index>(v);
}

/// True when each of v[0..n) is an integer in [0, limit), for limit <= 2^24 (every such integer is exact in
/// float). One branch-free pass over SIMD packets (compilers do not vectorise the scalar form of this test:
/// it cost 8% of a training step of a one-hot model); the comparisons are false for NaN.
template <typename T>
inline bool all_ids_below(const T* v, Index n, T limit) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr Index PS = ei::packet_traits<T>::size;
  Index r = 0;
  if constexpr (PS > 1) {
    const P zero = ei::pset1<P>(T(0)), lim = ei::pset1<P>(limit);
    P bad = zero;
    for (; r + PS <= n; r += PS) {
      const P id = ei::ploadu<P>(v + r);
      const P ok = ei::pand(ei::pand(ei::pcmp_le(zero, id), ei::pcmp_lt(id, lim)), ei::pcmp_eq(ei::pfloor(id), id));
      bad = ei::por(bad, ei::pandnot(ei::ptrue(ok), ok));
    }
    if (ei::predux_any(bad)) return false;
  }
  bool ok = true;
  for (; r < n; ++r) ok = ok && is_id(v[r], limit);
  return ok;
}

/// Checks every id of a batch.
template <typename T>
inline void check_ids(const SeqBatch<T>& x, Index depth, const std::string& where) {
  const Index rows = x.values.rows();
  const T* v = x.values.data();
  if (depth <= (Index(1) << 24) && all_ids_below(v, rows, static_cast<T>(depth))) return;
  for (Index r = 0; r < rows; ++r) checked_id(v[r], depth, r, x.batch, where);
}

/// Checks every id of a batch and stores them as int32 in `ids` (resized, no allocation once large enough).
template <typename T>
inline void read_ids(const SeqBatch<T>& x, Index depth, const std::string& where, std::vector<std::int32_t>& ids) {
  const Index rows = x.values.rows();
  const T* v = x.values.data();
  check_ids(x, depth, where);
  ids.resize(static_cast<std::size_t>(rows));
  std::int32_t* out = ids.data();
  for (Index r = 0; r < rows; ++r) out[r] = static_cast<std::int32_t>(v[r]);
}

/// The number of distinct ids in a batch of `depth`-valued ids, or -1 if a value is not an integer in
/// [0, depth) (the caller then leaves the error to the layer that checks and names it). One pass over the
/// rows with a bit per possible id.
template <typename T>
inline Index count_distinct_ids(const SeqBatch<T>& x, Index depth) {
  std::vector<std::uint64_t> seen(static_cast<std::size_t>((depth + 63) / 64), 0);
  const T* v = x.values.data();
  Index n = 0;
  for (Index r = 0, rows = x.values.rows(); r < rows; ++r) {
    if (!is_id(v[r], static_cast<T>(depth))) return -1;
    const auto id = static_cast<std::size_t>(v[r]);
    const std::uint64_t bit = std::uint64_t(1) << (id % 64);
    n += (seen[id / 64] & bit) == 0 ? 1 : 0;
    seen[id / 64] |= bit;
  }
  return n;
}

/// Replaces each of ids[0 .. n) (each in [0, depth), as read_ids leaves them) by its position in the
/// ascending list of the distinct ids, which goes into `distinct`. `slot` is a workspace of `depth` entries
/// (kept by the caller so that a batch allocates nothing once it has grown).
inline void to_distinct_slots(std::int32_t* ids, Index n, Index depth, std::vector<std::int32_t>& distinct,
                              std::vector<std::int32_t>& slot) {
  slot.assign(static_cast<std::size_t>(depth), 0);
  for (Index r = 0; r < n; ++r) slot[static_cast<std::size_t>(ids[r])] = 1;
  distinct.clear();
  for (Index id = 0; id < depth; ++id) {
    std::int32_t& s = slot[static_cast<std::size_t>(id)];
    if (!s) continue;
    s = static_cast<std::int32_t>(distinct.size());
    distinct.push_back(static_cast<std::int32_t>(id));
  }
  for (Index r = 0; r < n; ++r) ids[r] = slot[static_cast<std::size_t>(ids[r])];
}

/// One pass over the ids for the NC columns j .. j+NC-1 of G = P[ids] (.* scale) + b: each id is read once
/// for NC loads from P. The inner loads are at random rows of a column of P; no SIMD gather on this class
/// of CPU does them faster.
template <int NC, typename T, typename DP, typename DB>
inline void gather_columns(const std::int32_t* id, Index rows, const Eigen::MatrixBase<DP>& P,
                           const Eigen::MatrixBase<DB>& b, Index j, Matrix<T>& G, const T* scale) {
  const Index lp = P.derived().outerStride(), lg = G.outerStride();
  const T* p = &P.derived().coeffRef(0, j);
  T* g = G.col(j).data();
  T bias[NC];
  for (int c = 0; c < NC; ++c) bias[c] = b(0, j + c);
  if (scale) {
    for (Index r = 0; r < rows; ++r)
      for (int c = 0; c < NC; ++c) g[c * lg + r] = scale[r] * p[c * lp + id[r]] + bias[c];
  } else {
    for (Index r = 0; r < rows; ++r)
      for (int c = 0; c < NC; ++c) g[c * lg + r] = p[c * lp + id[r]] + bias[c];
  }
}

/// The first `rows` rows of G = P[id[0 .. rows)] + b (row r scaled by scale[r] before the bias is added,
/// with `scale`), into a G that already has at least `rows` rows and P.cols() columns. Four columns per pass
/// over the ids, then single columns.
template <typename T, typename DP, typename DB>
inline void gather_rows(const std::int32_t* id, Index rows, const Eigen::MatrixBase<DP>& P,
                        const Eigen::MatrixBase<DB>& b, Matrix<T>& G, const T* scale = nullptr) {
  eigen_assert(G.rows() >= rows && G.cols() == P.cols());
  const Index cols = P.cols();
  Index j = 0;
  for (; j + 4 <= cols; j += 4) gather_columns<4>(id, rows, P, b, j, G, scale);
  for (; j < cols; ++j) gather_columns<1>(id, rows, P, b, j, G, scale);
}

/// G = P[ids] + b for all ids: G is resized to ids.size() x P.cols().
template <typename T, typename DP, typename DB>
inline void gather_rows(const std::vector<std::int32_t>& ids, const Eigen::MatrixBase<DP>& P,
                        const Eigen::MatrixBase<DB>& b, Matrix<T>& G) {
  const Index rows = static_cast<Index>(ids.size());
  G.resize(rows, P.cols());
  gather_rows(ids.data(), rows, P, b, G);
}

/// G = X W + b for a dense, column-major X, by the kernel of gemm_kernel.hpp (the bias starts the sums in
/// registers), into a G (a block, say) of X.rows() rows; b is a row (or the first row of a block).
template <typename DX, typename DW, typename DB, typename DG>
inline void project_dense_rows(const Eigen::MatrixBase<DX>& X, const Eigen::MatrixBase<DW>& W,
                               const Eigen::MatrixBase<DB>& b, const Eigen::MatrixBase<DG>& G) {
  rec_mul_set(X, W, G, b.derived().data(), b.derived().outerStride());  // G = b + X W
}

/// G = X W + b: G is resized to rows x W.cols(). For one-hot X, `ids` holds its ids (read_ids): a one-hot row
/// times W is a row of W, so G is a gather of rows of W; dense X goes through the kernel of gemm_kernel.hpp.
template <typename T, typename DerivedW, typename DerivedB>
inline void project_input(const SeqBatch<T>& x, const std::vector<std::int32_t>& ids,
                          const Eigen::MatrixBase<DerivedW>& W, const Eigen::MatrixBase<DerivedB>& b, Matrix<T>& G) {
  const Index rows = x.values.rows();
  G.resize(rows, W.cols());
  if (x.shape.encoding == Encoding::OneHot)
    gather_rows(ids.data(), rows, W, b, G);
  else
    project_dense_rows(x.values, W, b, G);
}

/// dW += X^T dG for dense or one-hot X (`ids` as for project_input; `work` a scatter workspace).
template <typename T, typename DG, typename DerivedW>
inline void project_input_backward(const SeqBatch<T>& x, const std::vector<std::int32_t>& ids,
                                   const Eigen::MatrixBase<DG>& dG, Eigen::MatrixBase<DerivedW>& dW,
                                   RowMajorMatrix<T>& work) {
  if (x.shape.encoding == Encoding::OneHot)
    scatter_rows(ids, dG, dW, work);
  else
    tn_mul_acc(x.values, dG, dW);
}

}  // namespace detail
}  // namespace seqnet
