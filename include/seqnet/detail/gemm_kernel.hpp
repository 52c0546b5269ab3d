#pragma once
/// \file
/// The hand-written matrix products of the recurrent layers and the input projection, register-tiled:
/// - C += A M for a column-major A (rows x K) and an M given by pointer and two strides, or packed for the
///   kernel's tiles (PackedRhs): the per-step products h U, dG U^T and X_t W (packed), and the projections
///   dX = dG W^T, P = E W, dE = dP W^T;
/// - C += A^T B for tall A (K x m) and B (K x n) and a small C (m x n): the weight gradients X^T dG,
///   H_prev^T dG and E^T dP, summed over all T*B rows of a batch (or all rows of a table): dot products of
///   columns when m or n is small, else blocks of A transposed and multiplied by the first kind.

#include "seqnet/core/types.hpp"
#include "seqnet/detail/tiles.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <type_traits>
#include <vector>

namespace seqnet {
namespace detail {

/// Row count to allocate for a column-major matrix of `rows` rows whose columns a kernel reads side by side:
/// `rows` rounded up to whole cache lines, plus one line when that count is even, so that the column stride
/// is an odd number of cache lines and the columns start in different L1 sets. With a stride that is a
/// multiple of 4 KiB (T*B = 25,600 floats, say) all 4H columns of a step block land in the same few sets and
/// evict each other (measured with `seqnet_bench --kernels`: h U at B = 256, H = 8 took 3.0 us per step
/// unpadded, 1.6 us padded). The same holds for the left operand of small_gemm, whose block of 2 packets of
/// rows x gemm_k_block() columns should stay in L1 while every column tile reads it: with 128 or 512 rows
/// (a stride of 512 B or 2 KiB) its 256 lines fall into 8 or 2 of the 64 L1 sets, which hold 64 or 16 of
/// them. On a Zen 3 core (2026-12-07) packed_gemm_tn_acc's transposed blocks with a padded stride took
/// `seqnet_bench --kernels` at K = 12,800, m = 128, n = 512 from 63 to 78 GFLOP/s to 82 to 83 (three runs
/// of each build, in turn; docs/performance.md, item 39). The rows beyond `rows` are never read.
template <typename T>
inline Index padded_rows(Index rows) {
  constexpr Index line = 64 / static_cast<Index>(sizeof(T));
  const Index lines = (rows + line - 1) / line;
  return (lines % 2 == 0 ? lines + 1 : lines) * line;
}

/// One register tile of the recurrent product: C(r0 .. r0 + MR*PS, 0 .. NR) = Z + A(.., 0..K) M(0..K, 0..NR), for
/// C, M and b pointing at the tile's first column (C at column j0 of the whole product, M(k, j) at
/// m[k * msk + j * msj]), with MR x NR SIMD accumulators (PS = scalars per register) held in registers
/// across the whole k loop; each k loads MR packets of A and broadcasts NR entries of M. Z is the tile of C
/// itself (accumulate), else the bias entry b[j * bs] in every row of column j (zero without b).
template <int MR, int NR, typename T>
inline void gemm_tile(Index r0, Index K, const T* A, Index lda, const T* m, Index msk, Index msj, T* C, Index ldc,
                      bool accumulate, const T* b, Index bs) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr int PS = ei::packet_traits<T>::size;
  P acc[MR][NR];
  if (accumulate) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] = ei::ploadu<P>(C + j * ldc + r0 + i * PS);
  } else {
    for (int j = 0; j < NR; ++j) {
      const P z = b ? ei::pset1<P>(b[j * bs]) : ei::pzero(P());
      for (int i = 0; i < MR; ++i) acc[i][j] = z;
    }
  }
  for (Index k = 0; k < K; ++k) {
    P a[MR];
    for (int i = 0; i < MR; ++i) a[i] = ei::ploadu<P>(A + k * lda + r0 + i * PS);
    const T* mk = m + k * msk;
    for (int j = 0; j < NR; ++j) {
      const P bk = ei::pset1<P>(mk[j * msj]);
      for (int i = 0; i < MR; ++i) acc[i][j] = ei::pmadd(a[i], bk, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) ei::pstoreu(C + j * ldc + r0 + i * PS, acc[i][j]);
}

/// The number of columns of small_gemm's register tiles: NR = 8 with 32 vector registers (AVX-512), 6 with 16.
inline constexpr int kGemmTileCols = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 8 : 6;

/// The width of the register tile that small_gemm_block starts at column j0 of a product whose columns end at
/// `end`: NR columns at a time, then 4, 2 and 1; with NR = 6 the last 8 columns go as 4 + 4 (a 2-column tile
/// has too few accumulators to keep the FMA pipes busy: an 8-unit GRU's dG U^T at every step). The tiles
/// are those of the whole product wherever small_gemm_block's column panels start and end (it cuts them at
/// tile boundaries): with widths taken to each panel's end, the 4 + 4 of a product of 24 k + 2 columns
/// straddled the last panel's start, and a packed right-hand matrix was read in the wrong tiles.
inline Index gemm_tile_width(Index j0, Index end) {
  constexpr int NR = kGemmTileCols;
  if (j0 + NR <= end && (NR != 6 || end - j0 != 8)) return NR;
  if (NR > 4 && j0 + 4 <= end) return 4;
  return j0 + 2 <= end ? 2 : 1;
}

/// One k block of small_gemm (which the callers use): C(:, j) = Z(:, j) + sum_k A(:, k) * M(k, j) for j < n,
/// k < K, over `rows` rows, where A has column stride
/// lda, C column stride ldc, and M(k, j) is m[k * msk + j * msj]: the per-step recurrent products h U and
/// dG U^T, and the projections X W and dG W^T. Z is C itself (accumulate: C += A M), else the bias b[j * bs]
/// in every row of column j (zero without b). Starting from the bias in registers saves the projections two
/// passes over their output (filling it with the bias, then reading it back); for G = X W + b of 6,400 x 32
/// floats the fill alone took half as long as the product (`perf record build-bench/bench/seqnet_bench
/// --config emb_lstm2 --threads 1 --seconds 4 --phase train` at bdb2329, which filled G first).
/// Register-tiled over 2 SIMD packets of rows x NR columns: NR = 8 with 32 vector registers (AVX-512), 6 with
/// 16 (AVX2: 12 accumulators, the two packets of A and the broadcast fill the 16 registers; the twelve
/// independent multiply-adds per k cover the two FMA pipes' latency, which 2 x 4 tiles did not: `seqnet_bench
/// --kernels` on a Zen 3 core, 2026-12-06, B = 64, H = 128: h U 112 us against 158 with 2 x 4 tiles, B = 256:
/// 462 against 939; 3 x 4 tiles were slower than 2 x 6). It beats Eigen's GEMM on the per-step shapes at every size
/// measured (B = 32, 64, 256; H = 8, 32, 128; float, AVX-512 and AVX2): Eigen packs both operands on every call, a cost
/// the short k loops do not amortise (AVX-512: H = 8, B = 64: h U 0.40 us against 0.59; H = 128, B = 64: 74 us against
/// 94; AVX2: H = 128, B = 64: 112 us against 161). Rows beyond the last full packet go through Eigen.
/// `packed`: m is a PackedRhs block; `cols_outer`: the tiles go column tile by column tile (see below).
template <typename T>
inline void small_gemm_block(Index rows, Index n, Index K, const T* A, Index lda, const T* m, Index msk, Index msj,
                             T* C, Index ldc, bool accumulate, const T* b = nullptr, Index bs = 1, bool packed = false,
                             bool cols_outer = false) {
  constexpr int PS = Eigen::internal::packet_traits<T>::size;
  constexpr int NR = kGemmTileCols;
  if (K == 0) {  // C += nothing, or C = the bias (A and M may be null: no pointer is formed from them)
    if (!accumulate)
      for (Index j = 0; j < n; ++j)
        for (Index r = 0; r < rows; ++r) C[j * ldc + r] = b ? b[j * bs] : T(0);
    return;
  }
  // The tile of `w` columns from j0 for the block of `mr` packets of rows from r0. Its right-hand values:
  // M(k, j0 + j) at m[k * msk + (j0 + j) * msj], or, packed (PackedRhs), the tile's own K x w values k by k,
  // after the j0 * K values of the tiles before it.
  const auto tile = [&](auto mr, auto w, Index r0, Index j0) {
    constexpr int R = decltype(mr)::value, W = decltype(w)::value;
    gemm_tile<R, W>(r0, K, A, lda, packed ? m + j0 * K : m + j0 * msj, packed ? Index(W) : msk, packed ? 1 : msj,
                    C + j0 * ldc, ldc, accumulate, b ? b + j0 * bs : nullptr, bs);
  };
  // f(w, j0) for the column tiles from c0 to `end` (both tile boundaries), w as a compile-time constant. The
  // tiles are those of gemm_tile_width over all n columns, the layout PackedRhs packs by, wherever a panel of
  // columns (below) starts or ends.
  static_assert(NR > 4, "the tile widths are NR, 4, 2 and 1");
  const auto for_tiles = [n](Index c0, Index end, auto&& f) {
    for (Index j0 = c0, w = 0; j0 < end; j0 += w) {
      w = gemm_tile_width(j0, n);
      if (w == NR)
        f(std::integral_constant<int, NR>{}, j0);
      else if (w == 4)
        f(std::integral_constant<int, 4>{}, j0);
      else if (w == 2)
        f(std::integral_constant<int, 2>{}, j0);
      else
        f(std::integral_constant<int, 1>{}, j0);
    }
  };
  const Index full_rows = rows / PS * PS;
  // The blocks of rows of one column tile: its K x w values of M go to L1 once, and every block of rows of
  // A reads them there.
  const auto column_tile = [&](auto w, Index j0) {
    Index r0 = 0;
    for (; r0 + 2 * PS <= full_rows; r0 += 2 * PS) tile(std::integral_constant<int, 2>{}, w, r0, j0);
    for (; r0 < full_rows; r0 += PS) tile(std::integral_constant<int, 1>{}, w, r0, j0);
  };
  // By rows, each block of rows of A (2 packets x K, in L1) reads all of M, from L2; by columns, each
  // column tile of M (K x w, in L1) is read by all of A, from L2. By columns when the caller asks for it, or
  // when M is larger than kMBlockBytes and A at most kABlockBytes (P^T = W^T E_u^T over a batch's distinct
  // ids: M = E_u^T, 128 x 7,000 floats and more; A = W^T, 512 x 128): M then streams from memory once
  // instead of once per block of rows. By rows, with M in panels of kMPanelBytes (each read from memory once
  // and then from L2 by every block of rows), that product ran at 123, 123 and 73 GFLOP/s against 169, 87
  // and 137 by columns (`seqnet_bench --kernels`, "Q_us" at 3,600 ids, three runs of each build in turn on
  // the Xeon machine, 2026-12-08, whose speed moves from run to run); panels remain for an M that large with
  // an A larger than kABlockBytes.
  constexpr Index kMBlockBytes = 256 * 1024, kMPanelBytes = 128 * 1024, kABlockBytes = 512 * 1024;
  constexpr Index kAlign = 24;  // whole 6- and 8-column tiles
  const Index mbytes = K * n * static_cast<Index>(sizeof(T)), abytes = rows * K * static_cast<Index>(sizeof(T));
  if (cols_outer || (mbytes > kMBlockBytes && abytes <= kABlockBytes)) {
    for_tiles(0, n, column_tile);
  } else {
    const Index nb = mbytes > kMBlockBytes && rows > 2 * PS
                         ? std::max(kAlign, kMPanelBytes / (K * static_cast<Index>(sizeof(T))) / kAlign * kAlign)
                         : n;
    for (Index c0 = 0, end = 0; c0 < n; c0 = end) {
      while (end < std::min(c0 + nb, n)) end += gemm_tile_width(end, n);  // the panel ends at a tile boundary
      Index r0 = 0;
      for (; r0 + 2 * PS <= full_rows; r0 += 2 * PS)
        for_tiles(c0, end, [&](auto w, Index j0) { tile(std::integral_constant<int, 2>{}, w, r0, j0); });
      for (; r0 < full_rows; r0 += PS)
        for_tiles(c0, end, [&](auto w, Index j0) { tile(std::integral_constant<int, 1>{}, w, r0, j0); });
    }
  }
  if (full_rows == rows) return;
  // Rows beyond the last full packet: through Eigen, or, packed, one value at a time tile by tile.
  if (packed) {
    for (Index j0 = 0; j0 < n;) {
      const Index w = gemm_tile_width(j0, n);
      const T* mt = m + j0 * K;
      for (Index j = 0; j < w; ++j)
        for (Index r = full_rows; r < rows; ++r) {
          T sum = accumulate ? C[(j0 + j) * ldc + r] : b ? b[(j0 + j) * bs] : T(0);
          for (Index k = 0; k < K; ++k) sum += A[k * lda + r] * mt[k * w + j];
          C[(j0 + j) * ldc + r] = sum;
        }
      j0 += w;
    }
    return;
  }
  using Mat = Matrix<T>;
  using Strided = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
  const Index rem = rows - full_rows;
  Eigen::Map<Mat, 0, Eigen::OuterStride<>> c(C + full_rows, rem, n, Eigen::OuterStride<>(ldc));
  const Eigen::Map<const Mat, 0, Eigen::OuterStride<>> a(A + full_rows, rem, K, Eigen::OuterStride<>(lda));
  const Eigen::Map<const Mat, 0, Strided> mm(m, K, n, Strided(msj, msk));
  if (!accumulate)
    for (Index j = 0; j < n; ++j) c.col(j).setConstant(b ? b[j * bs] : T(0));
  c.noalias() += a * mm;
}

/// The k values of one block of small_gemm: 16 KiB of a block of 2 packets of rows of A.
template <typename T>
constexpr Index gemm_k_block() {
  return 16 * 1024 / (2 * Eigen::internal::packet_traits<T>::size * static_cast<Index>(sizeof(T)));
}

/// C(:, j) = Z(:, j) + sum_k A(:, k) * M(k, j), as small_gemm_block (which see for the arguments), with k in
/// blocks of gemm_k_block<T>() values, the first block setting C (bias or zero), the others adding
/// to it: a block of rows of A (2 packets x kc) then takes 16 KiB, half of L1, and stays there while every
/// column tile reads it. With a K of 512 in one block (dX = dG W^T and the per-step dG_t U^T of a 128-unit
/// LSTM: 2 x 8 floats x 512 = 32 KiB with AVX2) the row block fills L1 and each column tile reads it again
/// from L2: `seqnet_bench --kernels` on a Zen 3 core (32 KiB L1d), 2026-12-07: dG W^T over 25,600 rows 67 to
/// 91 ms in one block, 55 to 59 in blocks of 256; 400 steps of dG_t U^T 68 to 78 ms against 55 to 63.
template <typename T>
inline void small_gemm(Index rows, Index n, Index K, const T* A, Index lda, const T* m, Index msk, Index msj, T* C,
                       Index ldc, bool accumulate, const T* b = nullptr, Index bs = 1) {
  constexpr Index kc = gemm_k_block<T>();          // 256 for float and double with AVX2, 128 with AVX-512
  for (Index k0 = 0; k0 < K || k0 == 0; k0 += kc)  // K = 0: one empty block, which sets C to the bias
    small_gemm_block(rows, n, std::min(kc, K - k0), A + k0 * lda, lda, m + k0 * msk, msk, msj, C, ldc,
                     accumulate || k0 > 0, b, bs);
}

/// A right-hand matrix M (K x n) laid out for small_gemm's register tiles: for each block of k
/// (gemm_k_block), the column tiles in order (gemm_tile_width), each tile's values k by k, so that a tile
/// reads its K x w values as one contiguous stream instead of w columns of M (or, for M = U^T, a
/// cache line per k of which it uses w values). Packed once per forward or backward pass and read by
/// every step's product (h_{t-1} U, dG_t U^T, X_t W): docs/performance.md, item 38.
template <typename T>
class PackedRhs {
 public:
  /// Packs M(k, j) = m[k * msk + j * msj] for k < K, j < n.
  void pack(Index K, Index n, const T* m, Index msk, Index msj) {
    K_ = K;
    n_ = n;
    data_.resize(static_cast<std::size_t>(K * n));
    T* out = data_.data();
    constexpr Index kc = gemm_k_block<T>();
    for (Index k0 = 0; k0 < K; k0 += kc) {
      const Index kb = std::min(kc, K - k0);
      for (Index j0 = 0; j0 < n;) {
        const Index w = gemm_tile_width(j0, n);
        for (Index k = k0; k < k0 + kb; ++k)
          for (Index j = j0; j < j0 + w; ++j) *out++ = m[k * msk + j * msj];
        j0 += w;
      }
    }
  }
  /// Packs M (a block of a column-major matrix).
  template <typename DM>
  void pack(const Eigen::MatrixBase<DM>& M) {
    pack(M.rows(), M.cols(), M.derived().data(), Index(1), M.derived().outerStride());
  }
  /// Packs M^T (M a block of a column-major matrix).
  template <typename DM>
  void pack_transposed(const Eigen::MatrixBase<DM>& M) {
    pack(M.cols(), M.rows(), M.derived().data(), M.derived().outerStride(), Index(1));
  }
  Index rows() const { return K_; }
  Index cols() const { return n_; }
  /// The packed values of the block of k from k0 (a multiple of gemm_k_block).
  const T* block(Index k0) const { return data_.data() + k0 * n_; }

 private:
  std::vector<T> data_;
  Index K_ = 0, n_ = 0;
};

/// C = Z + A M for a packed M, as small_gemm: A is rows x M.rows() with column stride lda, C rows x M.cols().
template <typename T>
inline void small_gemm(Index rows, const T* A, Index lda, const PackedRhs<T>& M, T* C, Index ldc, bool accumulate,
                       const T* b = nullptr, Index bs = 1) {
  constexpr Index kc = gemm_k_block<T>();
  const Index K = M.rows();
  for (Index k0 = 0; k0 < K || k0 == 0; k0 += kc)
    small_gemm_block(rows, M.cols(), std::min(kc, K - k0), A + k0 * lda, lda, M.block(k0), Index(0), Index(0), C, ldc,
                     accumulate || k0 > 0, b, bs, true);
}

/// C += A M for a packed M, with A: rows x K, C: rows x n.
template <typename DA, typename DC>
inline void rec_mul_acc(const Eigen::MatrixBase<DA>& A, const PackedRhs<typename DA::Scalar>& M,
                        const Eigen::MatrixBase<DC>& Cx) {
  DC& C = const_cast<DC&>(Cx.derived());
  eigen_assert(C.rows() == A.rows() && C.cols() == M.cols() && A.cols() == M.rows());
  small_gemm(A.rows(), A.derived().data(), A.derived().outerStride(), M, C.data(), C.outerStride(), true);
}

/// C = A M + 1 b for a packed M (b a row of n values, stride `bs` apart; zero without b).
template <typename DA, typename DC>
inline void rec_mul_set(const Eigen::MatrixBase<DA>& A, const PackedRhs<typename DA::Scalar>& M,
                        const Eigen::MatrixBase<DC>& Cx, const typename DC::Scalar* b = nullptr, Index bs = 1) {
  DC& C = const_cast<DC&>(Cx.derived());
  eigen_assert(C.rows() == A.rows() && C.cols() == M.cols() && A.cols() == M.rows());
  small_gemm(A.rows(), A.derived().data(), A.derived().outerStride(), M, C.data(), C.outerStride(), false, b, bs);
}

/// C += A M, with A: rows x K, M: K x n (a block of a column-major matrix), C: rows x n.
template <typename DA, typename DM, typename DC>
inline void rec_mul_acc(const Eigen::MatrixBase<DA>& A, const Eigen::MatrixBase<DM>& M,
                        const Eigen::MatrixBase<DC>& Cx) {
  DC& C = const_cast<DC&>(Cx.derived());
  small_gemm(A.rows(), M.cols(), A.cols(), A.derived().data(), A.derived().outerStride(), M.derived().data(), Index(1),
             M.derived().outerStride(), C.data(), C.outerStride(), true);
}

/// C += A M^T, with A: rows x K, M: n x K (a block of a column-major matrix), C: rows x n.
template <typename DA, typename DM, typename DC>
inline void rec_mul_t_acc(const Eigen::MatrixBase<DA>& A, const Eigen::MatrixBase<DM>& M,
                          const Eigen::MatrixBase<DC>& Cx) {
  DC& C = const_cast<DC&>(Cx.derived());
  small_gemm(A.rows(), M.rows(), A.cols(), A.derived().data(), A.derived().outerStride(), M.derived().data(),
             M.derived().outerStride(), Index(1), C.data(), C.outerStride(), true);
}

/// C = A M + 1 b (b a row of n values, stride `bs` apart; zero without b), with A: rows x K, M: K x n (a
/// block of a column-major matrix), C: rows x n, already of that size.
template <typename DA, typename DM, typename DC>
inline void rec_mul_set(const Eigen::MatrixBase<DA>& A, const Eigen::MatrixBase<DM>& M, const Eigen::MatrixBase<DC>& Cx,
                        const typename DC::Scalar* b = nullptr, Index bs = 1) {
  DC& C = const_cast<DC&>(Cx.derived());
  eigen_assert(C.rows() == A.rows() && C.cols() == M.cols() && A.cols() == M.rows());
  small_gemm(A.rows(), M.cols(), A.cols(), A.derived().data(), A.derived().outerStride(), M.derived().data(), Index(1),
             M.derived().outerStride(), C.data(), C.outerStride(), false, b, bs);
}

/// C = A M^T, with A: rows x K, M: n x K (a block of a column-major matrix), C: rows x n, already of that size.
template <typename DA, typename DM, typename DC>
inline void rec_mul_t_set(const Eigen::MatrixBase<DA>& A, const Eigen::MatrixBase<DM>& M,
                          const Eigen::MatrixBase<DC>& Cx) {
  DC& C = const_cast<DC&>(Cx.derived());
  eigen_assert(C.rows() == A.rows() && C.cols() == M.rows() && A.cols() == M.cols());
  small_gemm(A.rows(), M.rows(), A.cols(), A.derived().data(), A.derived().outerStride(), M.derived().data(),
             M.derived().outerStride(), Index(1), C.data(), C.outerStride(), false);
}

/// An empty statement that tells the compiler `v` lives in a vector register. Without it GCC folds the
/// loads of tn_tile's packets into the multiply-adds as memory operands, loading each packet of B MR times
/// and each packet of A NR times instead of once (seen in the disassembly; GCC 12 still did so for A with
/// B kept, and the kernel ran 20 to 30% slower: `seqnet_bench --kernels`, 2026-11-28, K = 6400, m = n = 8:
/// 9.7 to 10.6 us against 8.1 to 8.6; K = 3200, m = 8, n = 24: 14.7 to 16.1 against 12.6 to 13.0). Eigen's
/// own GEMM kernel uses the same device (under the same condition: GCC, x86 SIMD).
template <typename P>
inline void keep_in_register(P& v) {
#if defined(__GNUC__) && !defined(__clang__) && defined(EIGEN_VECTORIZE_SSE)
  __asm__("" : "+x"(v));
#else
  (void)v;
#endif
}

/// One register tile of C += A^T B: C(i0 .. i0+MR, j0 .. j0+NR) += sum over k < K of A(k, i) B(k, j),
/// MR x NR SIMD accumulators along k (each k-packet loads MR packets of A and NR of B), reduced across lanes
/// at the end. The k-rows beyond the last full packet are added in scalar code.
template <int MR, int NR, typename T>
inline void tn_tile(Index i0, Index j0, Index K, const T* A, Index lda, const T* B, Index ldb, T* C, Index ldc) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr int PS = ei::packet_traits<T>::size;
  P acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = ei::pset1<P>(T(0));
  const T* a0 = A + i0 * lda;
  const T* b0 = B + j0 * ldb;
  Index k = 0;
  for (; k + PS <= K; k += PS) {
    P b[NR];
    for (int j = 0; j < NR; ++j) {
      b[j] = ei::ploadu<P>(b0 + j * ldb + k);
      keep_in_register(b[j]);
    }
    for (int i = 0; i < MR; ++i) {
      P a = ei::ploadu<P>(a0 + i * lda + k);
      keep_in_register(a);
      for (int j = 0; j < NR; ++j) acc[i][j] = ei::pmadd(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      T sum = ei::predux(acc[i][j]);
      for (Index r = k; r < K; ++r) sum += a0[i * lda + r] * b0[j * ldb + r];
      C[(j0 + j) * ldc + i0 + i] += sum;
    }
}

/// C(i, j) += sum_k A(k, i) B(k, j) for i < m, j < n, k < K; A, B, C column-major with column strides lda,
/// ldb, ldc. For the weight gradients of the small layers (m, n up to a few dozen, K = T*B rows), where
/// Eigen's GEMM spends most of its time packing: each entry of C is a dot product of two contiguous columns,
/// computed MR x NR at a time in SIMD accumulators over all K rows at once: each tile streams its columns
/// from the start to the end, and reduces its accumulators once. (Chunks of 512 rows, which kept a chunk's
/// columns in L1 while every tile passed over them, were slower: `seqnet_bench --kernels` at K = 6400,
/// m = 8, n = 32 took 49 to 50 us with them, at cbc013e, and 40 to 41 without, at 34730ee.)
template <typename T>
inline void small_gemm_tn_acc(Index m, Index n, Index K, const T* A, Index lda, const T* B, Index ldb, T* C,
                              Index ldc) {
  constexpr int MR = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 4 : 2;
  constexpr int NR = 4;
  Index j0 = 0;
  for (; j0 + NR <= n; j0 += NR) {
    Index i0 = 0;
    for (; i0 + MR <= m; i0 += MR) tn_tile<MR, NR>(i0, j0, K, A, lda, B, ldb, C, ldc);
    for (; i0 < m; ++i0) tn_tile<1, NR>(i0, j0, K, A, lda, B, ldb, C, ldc);
  }
  for (; j0 < n; ++j0) {
    Index i0 = 0;
    for (; i0 + MR <= m; i0 += MR) tn_tile<MR, 1>(i0, j0, K, A, lda, B, ldb, C, ldc);
    for (; i0 < m; ++i0) tn_tile<1, 1>(i0, j0, K, A, lda, B, ldb, C, ldc);
  }
}

/// C += A M over one block of k, column tile by column tile (small_gemm_block with cols_outer), for
/// packed_gemm_tn_acc's blocks; kept out of line. Inlined there (as GCC 12 chose at de3501f), the one-packet
/// row tiles ran out of vector registers, their multiply-adds read spilled values from the stack, and the
/// product took twice as long whenever m was not a multiple of 32 (`seqnet_bench --kernels`, 2026-11-28:
/// K = 6400, m = 16, n = 32: 171 to 185 us inlined, 74 to 79 us out of line; K = 500, m = 16, n = 32: 13.6 to
/// 13.9 against 6.8 to 7.3).
template <typename T>
EIGEN_DONT_INLINE void small_gemm_acc_by_columns(Index rows, Index n, Index K, const T* A, Index lda, const T* m,
                                                 Index msk, Index msj, T* C, Index ldc) {
  small_gemm_block(rows, n, K, A, lda, m, msk, msj, C, ldc, true, static_cast<const T*>(nullptr), Index(1), false,
                   true);
}

/// C(i, j) += sum_k A(k, i) B(k, j), as small_gemm_tn_acc, for larger m: k runs in blocks of kKc rows; each
/// block of A is transposed (transpose_into) into At (column stride padded_rows), m rows rounded up to whole
/// SIMD packets by zero rows, and At times the block of B, read in place (M(k, j) = B(k0 + k, j)), goes
/// through small_gemm_block's register tiles, which keep 2 packets x 8 (AVX-512) or 6 (AVX2) columns of C in
/// registers over the block's k. The transpose costs m values per 2 m n multiply-adds. The block's product
/// runs column tile by column tile, with all kKc values of k at once: each tile's kKc x w values of B, read
/// from w columns far apart, go to L1 once and serve every block of rows of At (m x kKc, in L2). Row block
/// by row block, in small_gemm's blocks of 128 values of k, each block of rows read all of B's block from
/// L2, eight columns far apart at a time: `seqnet_bench --kernels` on the Xeon machine (2026-12-08, three
/// runs of each build in turn) had K = 12800, m = 128, n = 512 (dU of a 128-unit LSTM over 200 steps of 64
/// samples) at 88, 90 and 81 GFLOP/s that way (Eigen's GEMM in the same runs: 116, 115, 106) and at 125, 80
/// and 120 now (Eigen: 118, 79, 102). Faster than Eigen's GEMM at every shape of `seqnet_bench --kernels`
/// with m and n above 8 on the Zen 4 machine, with the earlier order (K = 12800, m = 128, n = 512: 18.1 ms
/// against 24.2; m = 16, n = 32, K = 500: 6.8 us against 7.2).
template <typename T>
inline void packed_gemm_tn_acc(Index m, Index n, Index K, const T* A, Index lda, const T* B, Index ldb, T* C,
                               Index ldc) {
  constexpr Index PS = Eigen::internal::packet_traits<T>::size;
  constexpr Index kKc = 256;
  const Index mp = (m + PS - 1) / PS * PS, ld = padded_rows<T>(mp);
  const bool padded = mp != m;
  Matrix<T> At(ld, std::min(K, kKc));  // column stride: an odd number of cache lines (padded_rows)
  At.middleRows(m, mp - m).setZero();  // the padding rows; the transposes below fill the others
  Matrix<T> Cp;                        // C's sums when m is padded: mp x n, then added to C's m rows
  if (padded) Cp.setZero(mp, n);
  for (Index k0 = 0; k0 < K; k0 += kKc) {
    const Index kc = std::min(kKc, K - k0);
    transpose_into(Cols<const T>{A + k0, lda}, kc, m, Cols<T>{At.data(), ld});  // At(0..m, 0..kc) = A(k0.., :)^T
    small_gemm_acc_by_columns(mp, n, kc, At.data(), ld, B + k0, Index(1), ldb, padded ? Cp.data() : C,
                              padded ? mp : ldc);
  }
  if (padded) Eigen::Map<Matrix<T>, 0, Eigen::OuterStride<>>(C, m, n, Eigen::OuterStride<>(ldc)) += Cp.topRows(m);
}

/// C += A^T B, with A: K x m, B: K x n (blocks of column-major matrices), C: m x n. A single column (n = 1,
/// the weight gradient of Dense(1)) is a matrix-vector product, for Eigen. small_gemm_tn_acc takes the products
/// with m or n at most 8 (the weight gradients of layers with 8 units or 8 input features), and those over at
/// least 1024 rows with m and n at most 128 and one of them at most 32 (a 16- or 32-feature input, a 32-unit
/// layer): it needs no transpose and no padding, and keeps up with the packed product's register tiles there.
/// With fewer rows its per-output sums cost more than the transpose saves; with m and n both larger the packed
/// product's register tiles do more work per load. `seqnet_bench --kernels` (2026-11-28), dot-product
/// kernel against packed: K = 6400, m = n = 8: 7.3 us against 22.5; m = 16, n = 32: 59.6 against 73.3; m = 64,
/// n = 64: 556 against 519; K = 256, m = 128, n = 32: 28.7 against 22.9 (the other shapes: docs/performance.md,
/// item 27). With 16 vector registers (AVX2) only the first rule holds: the packed product's 2 x 6 tiles run
/// at 60 to 80 GFLOP/s on a Zen 3 core where the dot products reach 45 to 55 (K = 6400, m = 16, n = 32: 61
/// against 49; m = 16, n = 128: 70 against 46; K = 3200, m = 32, n = 128: 80 against 50; 2026-12-06).
/// Everything else goes through packed_gemm_tn_acc.
template <typename DA, typename DB, typename DC>
inline void tn_mul_acc(const Eigen::MatrixBase<DA>& A, const Eigen::MatrixBase<DB>& B,
                       const Eigen::MatrixBase<DC>& Cx) {
  DC& C = const_cast<DC&>(Cx.derived());
  eigen_assert(A.rows() == B.rows() && C.rows() == A.cols() && C.cols() == B.cols());
  const Index K = A.rows(), m = A.cols(), n = B.cols();
  constexpr bool wide = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32;
  const bool dot_kernel = std::min(m, n) <= 8 || (wide && K >= 1024 && std::min(m, n) <= 32 && std::max(m, n) <= 128);
  if (n == 1)
    C.noalias() += A.transpose() * B;
  else if (dot_kernel)
    small_gemm_tn_acc(m, n, K, A.derived().data(), A.derived().outerStride(), B.derived().data(),
                      B.derived().outerStride(), C.data(), C.outerStride());
  else
    packed_gemm_tn_acc(m, n, K, A.derived().data(), A.derived().outerStride(), B.derived().data(),
                       B.derived().outerStride(), C.data(), C.outerStride());
}

}  // namespace detail
}  // namespace seqnet
