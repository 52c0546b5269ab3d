#pragma once
/// \file
/// Register-tile transposes: S x S blocks of scalars (S the SIMD packet size) loaded as S packets,
/// transposed in registers and stored as S packets the other way. They move data between row-contiguous and
/// column-contiguous layouts a packet at a time: a plain transpose (the packing of the weight-gradient
/// product in gemm_kernel.hpp), the gather of table rows into the gate columns of a step, and the
/// scatter-add of gate gradients into table rows.

#include "seqnet/core/types.hpp"
#include "seqnet/detail/cols.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <vector>

namespace seqnet {
namespace detail {

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

/// Multiplies lane i of every packet of a tile by scale[r0 + i], for a tile whose packets each hold rows
/// r0 .. r0 + S of one column (the per-row scale of a dropped one-hot input in the gather and the scatter).
template <typename P, typename T>
inline void scale_rows(Tile<P>& t, const T* scale, Index r0) {
  namespace ei = Eigen::internal;
  const P s = ei::ploadu<P>(scale + r0);
  for (int q = 0; q < Tile<P>::S; ++q) t.b.packet[q] = ei::pmul(s, t.b.packet[q]);
}

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

/// One tile or one entry of dst = (src[0] + ... + src[n-1])^T (transpose_sum_into).
template <typename T>
struct TransposeSumOp {
  const Cols<const T>* src;
  int n;
  Cols<T> dst;
  template <typename P>
  void tile(Index r0, Index c0) const {
    namespace ei = Eigen::internal;
    Tile<P> t;
    for (int q = 0; q < Tile<P>::S; ++q) t.b.packet[q] = ei::ploadu<P>(src[0].col(c0 + q) + r0);
    for (int j = 1; j < n; ++j)
      for (int q = 0; q < Tile<P>::S; ++q)
        t.b.packet[q] = ei::padd(t.b.packet[q], ei::ploadu<P>(src[j].col(c0 + q) + r0));
    ei::ptranspose(t.b);  // packet q: row r0 + q of the sum, columns c0 ..
    for (int q = 0; q < Tile<P>::S; ++q) ei::pstoreu(dst.col(r0 + q) + c0, t.b.packet[q]);
  }
  void scalar(Index r, Index c) const {
    T s = src[0].col(c)[r];
    for (int j = 1; j < n; ++j) s += src[j].col(c)[r];
    dst.col(r)[c] = s;
  }
};

/// dst = (src[0] + ... + src[n-1])^T: each src rows x cols, dst cols x rows; n >= 1.
template <typename T>
inline void transpose_sum_into(const Cols<const T>* src, int n, Index rows, Index cols, Cols<T> dst) {
  for_each_tile<T>(rows, cols, TransposeSumOp<T>{src, n, dst});
}

/// dst = src^T: src rows x cols, dst cols x rows.
template <typename T>
inline void transpose_into(Cols<const T> src, Index rows, Index cols, Cols<T> dst) {
  transpose_sum_into(&src, 1, rows, cols, dst);
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
    if (scale) scale_rows(t, scale, r0);
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
    for (int q = 0; q < S; ++q) t.b.packet[q] = ei::ploadu<P>(g.col(c0 + q) + r0);  // packet q: column c0 + q
    if (scale) scale_rows(t, scale, r0);
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

/// work(id[r], :) += dG(r, :) for the first `rows` rows of dG (scaled by scale[r], with `scale`), into
/// row-major storage of rows `lw` values apart; a repeated id adds up in row order.
template <typename T, typename DG>
inline void scatter_add_rows(const std::int32_t* id, Index rows, const Eigen::MatrixBase<DG>& dG, T* work, Index lw,
                             const T* scale = nullptr) {
  const Index cols = dG.cols(), ld = dG.derived().outerStride();
  eigen_assert(dG.rows() >= rows && lw >= cols);
  for_each_tile<T>(rows, cols, ScatterOp<T>{id, Cols<const T>{dG.derived().data(), ld}, work, lw, scale});
}

/// The table_rows x dG.cols() sums of scatter_rows below, into row-major storage of rows `lw` values apart,
/// all table_rows * lw values of which are zeroed first.
template <typename T, typename DG>
inline void scatter_rows_into(const std::vector<std::int32_t>& ids, const Eigen::MatrixBase<DG>& dG, Index table_rows,
                              T* work, Index lw, const T* scale = nullptr) {
  std::fill(work, work + table_rows * lw, T(0));  // one pass (per row: 500 calls of 32 bytes for emb_rnn)
  scatter_add_rows(ids.data(), static_cast<Index>(ids.size()), dG, work, lw, scale);
}

/// dP(ids[r], :) += scale[r] * dG(r, :) for every row r (scale 1 without `scale`). The sums are formed in
/// `work`, a row-major copy of dP's shape, where the target of each row is contiguous (about 2.5x faster than
/// scattering column by column into a column-major dP, whose reads and writes land on a new cache line each);
/// S x S tiles of dG are transposed in registers into S rows of S sums each.
template <typename T, typename DG, typename DP>
inline void scatter_rows(const std::vector<std::int32_t>& ids, const Eigen::MatrixBase<DG>& dG,
                         Eigen::MatrixBase<DP>& dP, RowMajorMatrix<T>& work, const T* scale = nullptr) {
  work.resize(dP.rows(), dG.cols());
  scatter_rows_into(ids, dG, dP.rows(), work.data(), work.cols(), scale);
  dP += work;
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

}  // namespace detail
}  // namespace seqnet
