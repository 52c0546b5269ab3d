#pragma once
/// \file
/// The input projection shared by Dense and the recurrent layers: G = X W + b over all rows (all steps of
/// all samples) at once. For Dense input it is one GEMM; for one-hot input (ids standing for one-hot
/// vectors) the product of a one-hot row with W is a row of W, so it is a gather, and dW += X^T dG is a
/// scatter-add. Ids are read once per forward (read_ids): an id that is not an integer in [0, depth) is an
/// error that names the id, the sample and the step; the gather and scatter loops then use the int32 ids.

#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"
#include "seqnet/detail/cols.hpp"
#include "seqnet/detail/gemm_kernel.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

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
  for (; r < n; ++r) {
    const T id = v[r];
    ok = ok && id >= T(0) && id < limit && id == std::floor(id);
  }
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

/// Row count to allocate for a time-major matrix of `rows` rows that per-step code reads column by column
/// in blocks of B rows: `rows` rounded up to whole cache lines, plus one line when that count is even, so
/// that the column stride is an odd number of cache lines. Columns then start in different L1 sets; with a
/// stride that is a multiple of 4 KiB (T*B = 25,600 floats, say) all 4H columns of a step block land in the
/// same few sets and evict each other (measured with `seqnet_bench --kernels`: h U at B = 256, H = 8 took
/// 3.0 us per step unpadded, 1.6 us padded). The rows beyond `rows` are never read.
template <typename T>
inline Index padded_rows(Index rows) {
  constexpr Index line = 64 / static_cast<Index>(sizeof(T));
  const Index lines = (rows + line - 1) / line;
  return (lines % 2 == 0 ? lines + 1 : lines) * line;
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

// Packet types are template arguments below (Tile<P>, PacketBlock<P, S>): GCC warns that their alignment
// attributes are ignored there, which Eigen's own headers silence the same way. And GCC 12 takes the
// deliberately undefined operand of the AVX-512 unpack intrinsics in Eigen's ptranspose for an uninitialised
// variable (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif

/// The square register tiles of the gather, the scatter and the transpose below: S x S scalars, S the size
/// of packet type P, transposed in registers by Eigen's ptranspose. Column counts that are not a multiple of
/// the full packet use half packets where the CPU has them (8 columns: an 8-unit SimpleRNN, the last third
/// of an 8-unit GRU's 24), then scalar code.
template <typename P>
struct Tile {
  static constexpr int S = Eigen::internal::unpacket_traits<P>::size;
  Eigen::internal::PacketBlock<P, S> b;
};

/// The full packet type of T, and its half (the same type where there is none).
template <typename T>
using FullPacket = typename Eigen::internal::packet_traits<T>::type;
template <typename T>
using HalfPacket = typename Eigen::internal::unpacket_traits<FullPacket<T>>::half;

/// Calls f.template operator()<P>(r, c) for each S x S tile of a rows x cols block, S = the size of P: full
/// packets, then half packets for the columns left (each full-packet row block as two half blocks), and
/// f.scalar(r, c) for every entry no tile covers. With no SIMD, all entries go to f.scalar.
template <typename T, typename F>
inline void for_each_tile(Index rows, Index cols, F&& f) {
  using PF = FullPacket<T>;
  using PH = HalfPacket<T>;
  constexpr Index S = Tile<PF>::S, SH = Tile<PH>::S;
  Index r0 = 0;
  if constexpr (S > 1) {
    for (; r0 + S <= rows; r0 += S) {
      Index c0 = 0;
      for (; c0 + S <= cols; c0 += S) f.template tile<PF>(r0, c0);
      if constexpr (SH > 1 && SH < S)
        for (; c0 + SH <= cols; c0 += SH)
          for (Index h = 0; h < S; h += SH) f.template tile<PH>(r0 + h, c0);
      for (; c0 < cols; ++c0)
        for (Index r = r0; r < r0 + S; ++r) f.scalar(r, c0);
    }
  }
  for (; r0 < rows; ++r0)
    for (Index c = 0; c < cols; ++c) f.scalar(r0, c);
}

/// One tile or one entry of dst = src^T (transpose_into).
template <typename T>
struct TransposeOp {
  Cols<const T> src;
  Cols<T> dst;
  template <typename P>
  void tile(Index r0, Index c0) const {
    namespace ei = Eigen::internal;
    Tile<P> t;
    for (int q = 0; q < Tile<P>::S; ++q) t.b.packet[q] = ei::ploadu<P>(src.col(c0 + q) + r0);
    ei::ptranspose(t.b);  // packet q: row r0 + q of src, columns c0 ..
    for (int q = 0; q < Tile<P>::S; ++q) ei::pstoreu(dst.col(r0 + q) + c0, t.b.packet[q]);
  }
  void scalar(Index r, Index c) const { dst.col(r)[c] = src.col(c)[r]; }
};

/// dst = src^T: src rows x cols, dst cols x rows.
template <typename T>
inline void transpose_into(Cols<const T> src, Index rows, Index cols, Cols<T> dst) {
  for_each_tile<T>(rows, cols, TransposeOp<T>{src, dst});
}

/// One tile or one entry of gather_table_rows.
template <typename T, typename DB>
struct GatherOp {
  const std::int32_t* id;
  Cols<const T> Q;
  const DB& b;
  Cols<T> G;
  const T* scale;
  template <typename P>
  void tile(Index r0, Index c0) const {
    namespace ei = Eigen::internal;
    constexpr int S = Tile<P>::S;
    Tile<P> t;
    for (int q = 0; q < S; ++q) t.b.packet[q] = ei::ploadu<P>(Q.col(id[r0 + q]) + c0);
    ei::ptranspose(t.b);  // packet q: column c0 + q, rows r0 ..
    if (scale) {
      const P s = ei::ploadu<P>(scale + r0);
      for (int q = 0; q < S; ++q) t.b.packet[q] = ei::pmul(s, t.b.packet[q]);
    }
    for (int q = 0; q < S; ++q) ei::pstoreu(G.col(c0 + q) + r0, ei::padd(t.b.packet[q], ei::pset1<P>(b(0, c0 + q))));
  }
  void scalar(Index r, Index c) const {
    const T v = Q.col(id[r])[c];
    G.col(c)[r] = (scale ? scale[r] * v : v) + b(0, c);
  }
};

/// The first `rows` rows of G = Q^T[id[0 .. rows)] (row r scaled by scale[r], with `scale`) + b, for a table
/// given transposed: row `id` of the table is column `id` of Q (cols x table rows), contiguous. Each tile
/// loads S table rows, one packet each, and transposes them into S packets of G's columns, where a scalar
/// gather (gather_rows) does one load and one store per value.
template <typename T, typename DB>
inline void gather_table_rows(const std::int32_t* id, Index rows, Cols<const T> Q, Index cols,
                              const Eigen::MatrixBase<DB>& b, Cols<T> G, const T* scale = nullptr) {
  for_each_tile<T>(rows, cols, GatherOp<T, DB>{id, Q, b.derived(), G, scale});
}

/// One tile or one entry of scatter_rows' sums: work(id[r], c) += scale[r] * dG(r, c), rows in order.
template <typename T>
struct ScatterOp {
  const std::int32_t* id;
  Cols<const T> g;
  T* w;
  Index lw;
  const T* scale;
  template <typename P>
  void tile(Index r0, Index c0) const {
    namespace ei = Eigen::internal;
    constexpr int S = Tile<P>::S;
    Tile<P> t;
    for (int q = 0; q < S; ++q) t.b.packet[q] = ei::ploadu<P>(g.col(c0 + q) + r0);
    if (scale) {
      const P s = ei::ploadu<P>(scale + r0);
      for (int q = 0; q < S; ++q) t.b.packet[q] = ei::pmul(s, t.b.packet[q]);
    }
    ei::ptranspose(t.b);  // packet q: row r0 + q of dG, columns c0 ..
    for (int q = 0; q < S; ++q) {
      T* row = w + id[r0 + q] * lw + c0;  // one row after the other: a repeated id adds up in row order
      ei::pstoreu(row, ei::padd(ei::ploadu<P>(row), t.b.packet[q]));
    }
  }
  void scalar(Index r, Index c) const { w[id[r] * lw + c] += (scale ? scale[r] : T(1)) * g.col(c)[r]; }
};

template <typename T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// dP(ids[r], :) += scale[r] * dG(r, :) for every row r (scale 1 without `scale`). The sums are formed in
/// `work`, a row-major copy of dP's shape, where the target of each row is contiguous (about 2.5x faster than
/// scattering column by column into a column-major dP, whose reads and writes land on a new cache line each);
/// S x S tiles of dG are transposed in registers into S rows of S sums each.
template <typename T, typename DG, typename DP>
inline void scatter_rows(const std::vector<std::int32_t>& ids, const Eigen::MatrixBase<DG>& dG,
                         Eigen::MatrixBase<DP>& dP, RowMajorMatrix<T>& work, const T* scale = nullptr) {
  const Index rows = static_cast<Index>(ids.size()), cols = dG.cols(), ld = dG.derived().outerStride();
  eigen_assert(dG.rows() >= rows);
  work.setZero(dP.rows(), cols);
  for_each_tile<T>(rows, cols,
                   ScatterOp<T>{ids.data(), Cols<const T>{dG.derived().data(), ld}, work.data(), cols, scale});
  dP += work;
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

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
