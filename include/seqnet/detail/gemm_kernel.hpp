#pragma once
/// \file
/// The hand-written matrix product of the recurrent layers and the input projection: C += A M for a
/// column-major A (rows x K) and an M given by pointer and two strides, register-tiled. Used for the
/// per-step products h U and dG U^T, and for the projections G = X W and dX = dG W^T.

#include "seqnet/core/types.hpp"

#include <Eigen/Core>

namespace seqnet {
namespace detail {

/// One register tile of the recurrent product: C(r0 .. r0 + MR*PS, j0 .. j0 + NR) += A(.., 0..K) M(0..K, ..),
/// with MR x NR SIMD accumulators (PS = scalars per register) held in registers across the whole k loop;
/// each k loads MR packets of A and broadcasts NR entries of M.
template <int MR, int NR, typename T>
inline void gemm_tile(Index r0, Index j0, Index K, const T* A, Index lda, const T* m, Index msk, Index msj, T* C,
                      Index ldc) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr int PS = ei::packet_traits<T>::size;
  P acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = ei::ploadu<P>(C + (j0 + j) * ldc + r0 + i * PS);
  for (Index k = 0; k < K; ++k) {
    P a[MR];
    for (int i = 0; i < MR; ++i) a[i] = ei::ploadu<P>(A + k * lda + r0 + i * PS);
    const T* mk = m + k * msk + j0 * msj;
    for (int j = 0; j < NR; ++j) {
      const P b = ei::pset1<P>(mk[j * msj]);
      for (int i = 0; i < MR; ++i) acc[i][j] = ei::pmadd(a[i], b, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) ei::pstoreu(C + (j0 + j) * ldc + r0 + i * PS, acc[i][j]);
}

/// C(:, j) += sum_k A(:, k) * M(k, j) for j < n, k < K, over `rows` rows, where A has column stride lda, C
/// column stride ldc, and M(k, j) is m[k * msk + j * msj]: the per-step recurrent products h U and dG U^T,
/// and the projections X W and dG W^T. Register-tiled over 2 SIMD packets of rows x NR columns (NR = 8 with
/// 32 vector registers, else 4). It beats Eigen's GEMM on the per-step shapes at every size measured (B = 32,
/// 64, 256; H = 8, 32, 128; float, AVX-512): Eigen packs both operands on every call, a cost the short k
/// loops do not amortise (measured with `seqnet_bench --kernels`: H = 8, B = 64: h U 0.40 us against 0.59;
/// H = 128, B = 64: 74 us against 94).
/// Rows beyond the last full packet go through Eigen.
template <typename T>
inline void small_gemm_acc(Index rows, Index n, Index K, const T* A, Index lda, const T* m, Index msk, Index msj, T* C,
                           Index ldc) {
  constexpr int PS = Eigen::internal::packet_traits<T>::size;
  constexpr int NR = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 8 : 4;
  Index r0 = 0;
  for (; r0 + 2 * PS <= rows; r0 += 2 * PS) {
    Index j0 = 0;
    for (; j0 + NR <= n; j0 += NR) gemm_tile<2, NR>(r0, j0, K, A, lda, m, msk, msj, C, ldc);
    for (; j0 < n; ++j0) gemm_tile<2, 1>(r0, j0, K, A, lda, m, msk, msj, C, ldc);
  }
  for (; r0 + PS <= rows; r0 += PS) {
    Index j0 = 0;
    for (; j0 + NR <= n; j0 += NR) gemm_tile<1, NR>(r0, j0, K, A, lda, m, msk, msj, C, ldc);
    for (; j0 < n; ++j0) gemm_tile<1, 1>(r0, j0, K, A, lda, m, msk, msj, C, ldc);
  }
  if (r0 < rows) {
    using Mat = Matrix<T>;
    using Strided = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
    const Index rem = rows - r0;
    Eigen::Map<Mat, 0, Eigen::OuterStride<>> c(C + r0, rem, n, Eigen::OuterStride<>(ldc));
    const Eigen::Map<const Mat, 0, Eigen::OuterStride<>> a(A + r0, rem, K, Eigen::OuterStride<>(lda));
    const Eigen::Map<const Mat, 0, Strided> mm(m, K, n, Strided(msj, msk));
    c.noalias() += a * mm;
  }
}

/// C += A M, with A: rows x K, M: K x n (a block of a column-major matrix), C: rows x n.
template <typename DA, typename DM, typename DC>
inline void rec_mul_acc(const Eigen::MatrixBase<DA>& A, const Eigen::MatrixBase<DM>& M,
                        const Eigen::MatrixBase<DC>& Cx) {
  DC& C = const_cast<DC&>(Cx.derived());
  small_gemm_acc(A.rows(), M.cols(), A.cols(), A.derived().data(), A.derived().outerStride(), M.derived().data(),
                 Index(1), M.derived().outerStride(), C.data(), C.outerStride());
}

/// C += A M^T, with A: rows x K, M: n x K (a block of a column-major matrix), C: rows x n.
template <typename DA, typename DM, typename DC>
inline void rec_mul_t_acc(const Eigen::MatrixBase<DA>& A, const Eigen::MatrixBase<DM>& M,
                          const Eigen::MatrixBase<DC>& Cx) {
  DC& C = const_cast<DC&>(Cx.derived());
  small_gemm_acc(A.rows(), M.rows(), A.cols(), A.derived().data(), A.derived().outerStride(), M.derived().data(),
                 M.derived().outerStride(), Index(1), C.data(), C.outerStride());
}

}  // namespace detail
}  // namespace seqnet
