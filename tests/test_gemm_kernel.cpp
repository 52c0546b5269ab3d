// The register-tiled product of detail/gemm_kernel.hpp against Eigen's, over shapes that reach every path:
// full tiles of two SIMD packets of rows, single-packet tiles, the row tail, the column tail, and both
// orders of M (h U and dG U^T), for float and double.
#include <catch2/catch.hpp>
#include <seqnet/core/rng.hpp>
#include <seqnet/detail/gemm_kernel.hpp>

using namespace seqnet;

namespace {

template <typename T>
Matrix<T> random_matrix(Index r, Index c, Rng& rng) {
  Matrix<T> m(r, c);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(rng.uniform(-1.0, 1.0));
  return m;
}

template <typename T>
void check_shapes(double tol) {
  Rng rng(11);
  for (Index rows : {1, 2, 3, 5, 8, 15, 16, 17, 31, 32, 33, 40, 64, 67})
    for (Index K : {1, 3, 8, 13})
      for (Index n : {1, 4, 7, 8, 9, 17, 32}) {
        // A is a block of a taller matrix (column stride larger than rows), as a step block of a sequence.
        const Matrix<T> Afull = random_matrix<T>(rows + 5, K, rng);
        const auto A = Afull.middleRows(2, rows);
        const Matrix<T> M = random_matrix<T>(K, n, rng), Mt = M.transpose();
        Matrix<T> C0 = random_matrix<T>(rows + 3, n, rng);
        Matrix<T> C1 = C0, C2 = C0;
        const Matrix<T> want = C0.middleRows(1, rows) + A * M;
        detail::rec_mul_acc(A, M, C1.middleRows(1, rows));     // C += A M
        detail::rec_mul_t_acc(A, Mt, C2.middleRows(1, rows));  // C += A Mt^T
        INFO("rows " << rows << " K " << K << " n " << n);
        CHECK(C1.middleRows(1, rows).isApprox(want, tol));
        CHECK(C2.middleRows(1, rows).isApprox(want, tol));
        // Rows outside the block are untouched.
        CHECK(C1.row(0) == C0.row(0));
        CHECK(C1.bottomRows(2) == C0.bottomRows(2));
        CHECK(C2.row(0) == C0.row(0));
        CHECK(C2.bottomRows(2) == C0.bottomRows(2));
      }
}

}  // namespace

TEST_CASE("Recurrent kernel: C += A M equals Eigen's product (double)", "[kernel]") { check_shapes<double>(1e-13); }

TEST_CASE("Recurrent kernel: C += A M equals Eigen's product (float)", "[kernel]") { check_shapes<float>(1e-5); }

TEST_CASE("Recurrent kernel: a hand-computed product", "[kernel]") {
  // A = [1 2; 3 4; 5 6], M = [1 0 -1; 2 1 0], C = 1: C + A M = [6 3 0; 12 5 -2; 18 7 -4].
  Matrix<double> A(3, 2), M(2, 3), C = Matrix<double>::Ones(3, 3), want(3, 3);
  A << 1, 2, 3, 4, 5, 6;
  M << 1, 0, -1, 2, 1, 0;
  want << 6, 3, 0, 12, 5, -2, 18, 7, -4;
  detail::rec_mul_acc(A, M, C);
  CHECK(C == want);
}
