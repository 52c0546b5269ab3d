// The register-tiled products of detail/gemm_kernel.hpp against Eigen's, over shapes that reach every path.
// C += A M: full tiles of two SIMD packets of rows, single-packet tiles, the row tail, the column tail, and
// both orders of M (h U and dG U^T), accumulating into C or starting from a bias row or zero. C += A^T B: full and
// partial tiles of C, k-lengths below, at and beyond a packet (with and without a tail), blocks with a column
// stride; the packed product with m a whole number of packets or not, k below, at and beyond a block; and
// the recurrent kernel with a packed right-hand matrix. Float and double.
#include "kernel_helpers.hpp"

#include <catch2/catch.hpp>
#include <seqnet/core/rng.hpp>
#include <seqnet/detail/gemm_kernel.hpp>

namespace test_gemm_kernel {

using namespace seqnet;
using seqnet_test::random_matrix;

namespace {

template <typename T>
void check_shapes(double tol) {
  Rng rng(11);
  for (Index rows : {1, 2, 3, 5, 8, 15, 16, 17, 31, 32, 33, 40, 64, 67})
    for (Index K : {1, 3, 8, 13})
      for (Index n : {1, 4, 7, 8, 9, 13, 17, 32}) {
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
        // Rows outside the block are untouched.
        const auto check_outside = [&](const Matrix<T>& C) {
          CHECK(C.row(0) == C0.row(0));
          CHECK(C.bottomRows(2) == C0.bottomRows(2));
        };
        CHECK(C1.middleRows(1, rows).isApprox(want, tol));
        CHECK(C2.middleRows(1, rows).isApprox(want, tol));
        check_outside(C1);
        check_outside(C2);

        // C = A M + 1 b (b row 1 of a 2-row matrix: entries 2 apart, as GRU's recurrent bias), C = A Mt^T:
        // whatever C held before is overwritten, rows outside the block untouched.
        const Matrix<T> bias = random_matrix<T>(2, n, rng);
        Matrix<T> C3 = C0, C4 = C0;
        detail::rec_mul_set(A, M, C3.middleRows(1, rows), bias.data() + 1, bias.outerStride());
        detail::rec_mul_t_set(A, Mt, C4.middleRows(1, rows));
        const Matrix<T> with_bias = (A * M).rowwise() + bias.row(1);
        const Matrix<T> product = A * M;
        CHECK(C3.middleRows(1, rows).isApprox(with_bias, tol));
        CHECK(C4.middleRows(1, rows).isApprox(product, tol));
        check_outside(C3);
        check_outside(C4);
        // Starting from the bias in registers adds the same terms in the same order as filling C with the
        // bias and accumulating: the same bits.
        Matrix<T> C5 = C0;
        for (Index j = 0; j < n; ++j) C5.col(j).segment(1, rows).setConstant(bias(1, j));
        detail::rec_mul_acc(A, M, C5.middleRows(1, rows));
        CHECK(C3 == C5);
      }
}

// One shape of C += A^T B: A and B are blocks of taller matrices (column stride larger than K), C a block of a
// larger matrix; `kernel` (called with small_gemm_tn_acc's arguments) and tn_mul_acc against Eigen's product.
template <typename T, typename Kernel>
void check_tn_case(Index K, Index m, Index n, Rng& rng, double tol, Kernel kernel) {
  const Matrix<T> Afull = random_matrix<T>(K + 3, m, rng), Bfull = random_matrix<T>(K + 7, n, rng);
  const auto A = Afull.middleRows(1, K);
  const auto B = Bfull.middleRows(5, K);
  const Matrix<T> C0 = random_matrix<T>(m + 2, n + 1, rng);
  Matrix<T> C1 = C0, C2 = C0;
  const Matrix<T> want = C0.block(1, 0, m, n) + A.transpose() * B;
  kernel(m, n, K, A.data(), A.outerStride(), B.data(), B.outerStride(), C1.block(1, 0, m, n).data(), C1.outerStride());
  detail::tn_mul_acc(A, B, C2.block(1, 0, m, n));
  INFO("K " << K << " m " << m << " n " << n);
  CHECK(C1.block(1, 0, m, n).isApprox(want, tol));
  CHECK(C2.block(1, 0, m, n).isApprox(want, tol));
  // Entries outside the block are untouched (also where the packed product rounds m up to whole packets).
  CHECK(C1.row(0) == C0.row(0));
  CHECK(C1.bottomRows(1) == C0.bottomRows(1));
  CHECK(C1.col(n) == C0.col(n));
}

template <typename T>
void check_tn_shapes(double tol) {
  Rng rng(12);
  for (Index K : {1, 3, 16, 17, 100, 1024, 1030, 2100})
    for (Index m : {1, 3, 4, 5, 8, 9})
      for (Index n : {1, 2, 4, 5, 8, 13})
        check_tn_case<T>(K, m, n, rng, tol, [](auto... a) { detail::small_gemm_tn_acc<T>(a...); });
  // Wider products, which tn_mul_acc gives this kernel over 1024 rows or more (m, n up to 128, one up to 32).
  for (Index K : {1024, 1030})
    for (Index m : {16, 33, 128})
      for (Index n : {20, 32})
        check_tn_case<T>(K, m, n, rng, tol, [](auto... a) { detail::small_gemm_tn_acc<T>(a...); });
}

template <typename T>
void check_packed_tn_shapes(double tol) {
  Rng rng(13);
  for (Index K : {1, 17, 255, 256, 257, 600})
    for (Index m : {9, 16, 17, 32, 40})
      for (Index n : {2, 9, 16, 33})
        check_tn_case<T>(K, m, n, rng, tol, [](auto... a) { detail::packed_gemm_tn_acc<T>(a...); });
}

// Right-hand matrices of more than 256 KiB, which the kernel takes column tile by column tile when the
// left-hand block has at most 512 KiB (9, 17 and 40 rows) and otherwise in column panels, the last one
// partial (2,100 rows), with rows of full tiles, single-packet tiles and a tail; and the products over
// several k blocks, with the right-hand operand read transposed (M(k, j) at k * n + j, as dP^T from the
// scatter's workspace); M packed too.
template <typename T>
void check_panels(double tol) {
  Rng rng(14);
  const Index per_kib = 1024 / static_cast<Index>(sizeof(T));
  for (Index rows : {9, 17, 40, 2100})
    for (Index K : {Index(64), Index(300)}) {
      const Index n = 256 * per_kib / K + 37;  // just over 256 KiB of M
      const Matrix<T> Afull = random_matrix<T>(rows + 5, K, rng);
      const auto A = Afull.middleRows(2, rows);
      const Matrix<T> M = random_matrix<T>(K, n, rng), Mt = M.transpose(), bias = random_matrix<T>(1, n, rng);
      const Matrix<T> C0 = random_matrix<T>(rows + 3, n, rng);
      Matrix<T> C1 = C0, C2 = C0, C3 = C0;
      detail::rec_mul_acc(A, M, C1.middleRows(1, rows));
      detail::rec_mul_t_acc(A, Mt, C2.middleRows(1, rows));
      detail::rec_mul_set(A, M, C3.middleRows(1, rows), bias.data(), bias.outerStride());
      INFO("rows " << rows << " K " << K << " n " << n);
      const Matrix<T> want = C0.middleRows(1, rows) + A * M;
      const Matrix<T> with_bias = (A * M).rowwise() + bias.row(0);
      CHECK(C1.middleRows(1, rows).isApprox(want, tol));
      CHECK(C2.middleRows(1, rows).isApprox(want, tol));
      CHECK(C3.middleRows(1, rows).isApprox(with_bias, tol));
      for (const Matrix<T>* C : {&C1, &C2, &C3}) {
        CHECK(C->row(0) == C0.row(0));
        CHECK(C->bottomRows(2) == C0.bottomRows(2));
      }
      // The same M packed (a recurrent kernel of a wide layer), which takes the same order.
      detail::PackedRhs<T> P;
      P.pack(M);
      Matrix<T> C4 = C0;
      detail::rec_mul_acc(A, P, C4.middleRows(1, rows));
      CHECK(C4.middleRows(1, rows).isApprox(want, tol));
    }
  // k in blocks (kc values each): one block, a block and one value, several blocks and a part; the first
  // block sets C (to the bias, or zero), the later ones add to it.
  const Index kc = detail::gemm_k_block<T>();
  for (Index K : {Index(1), kc - 1, kc, kc + 1, 2 * kc + 7}) {
    const Index rows = 40, n = 33;
    const Matrix<T> A = random_matrix<T>(rows, K, rng), M = random_matrix<T>(K, n, rng), Mt = M.transpose();
    const Matrix<T> C0 = random_matrix<T>(rows, n, rng), bias = random_matrix<T>(1, n, rng);
    Matrix<T> C = C0, Cset = C0, Cbias = C0;
    detail::small_gemm(rows, n, K, A.data(), rows, Mt.data(), n, Index(1), C.data(), rows, true);
    detail::small_gemm(rows, n, K, A.data(), rows, Mt.data(), n, Index(1), Cset.data(), rows, false);
    detail::small_gemm(rows, n, K, A.data(), rows, Mt.data(), n, Index(1), Cbias.data(), rows, false, bias.data(),
                       Index(1));
    INFO("K " << K << ", k blocks of " << kc);
    CHECK(C.isApprox(C0 + A * M, tol));
    CHECK(Cset.isApprox(A * M, tol));
    CHECK(Cbias.isApprox((A * M).rowwise() + bias.row(0), tol));
  }
  // K = 0: C += nothing, or C = the bias.
  {
    const Matrix<T> C0 = random_matrix<T>(17, 5, rng), bias = random_matrix<T>(1, 5, rng);
    const T* none = nullptr;
    Matrix<T> C = C0, Cbias = C0;
    detail::small_gemm(17, 5, 0, none, 17, none, 5, Index(1), C.data(), 17, true);
    detail::small_gemm(17, 5, 0, none, 17, none, 5, Index(1), Cbias.data(), 17, false, bias.data(), Index(1));
    CHECK(C == C0);
    CHECK(Cbias == bias.replicate(17, 1));
  }
}

// Packed right-hand matrices (PackedRhs, M and M^T packed), for the per-step products: every tile width
// (n up to 41), k below, at and beyond a block (and K = 0), the row tail, accumulating or from a bias row or
// zero; and a packed matrix reused after a repack of another shape.
template <typename T>
void check_packed_rhs(double tol) {
  Rng rng(15);
  const Index kc = detail::gemm_k_block<T>();
  detail::PackedRhs<T> P, Pt;
  for (Index rows : {1, 7, 16, 17, 33, 64})
    for (Index K : {Index(0), Index(1), Index(5), kc - 1, kc, kc + 3, 2 * kc + 1})
      for (Index n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 16, 20, 26, 41}) {
        // A is a block of a taller matrix (a step block); with K = 0 a matrix of its own, whose data pointer
        // is null (a block of an empty matrix would offset a null pointer).
        using ARef = Eigen::Ref<const Matrix<T>, 0, Eigen::OuterStride<>>;
        const Matrix<T> Afull = random_matrix<T>(rows + 5, K, rng), Aempty(rows, 0);
        const ARef A = K > 0 ? ARef(Afull.middleRows(2, rows)) : ARef(Aempty);
        const Matrix<T> M = random_matrix<T>(K, n, rng), Mt = M.transpose();
        const Matrix<T> C0 = random_matrix<T>(rows, n, rng), bias = random_matrix<T>(1, n, rng);
        P.pack(M);
        Pt.pack_transposed(Mt);
        REQUIRE(P.rows() == K);
        REQUIRE(P.cols() == n);
        Matrix<T> C1 = C0, C2 = C0, C3 = C0, C4 = C0;
        detail::rec_mul_acc(A, P, C1);
        detail::rec_mul_acc(A, Pt, C2);
        detail::rec_mul_set(A, P, C3, bias.data(), Index(1));
        detail::rec_mul_set(A, Pt, C4);
        INFO("rows " << rows << " K " << K << " n " << n);
        // (Eigen's product of an empty block would offset a null pointer.)
        const Matrix<T> AM = K > 0 ? Matrix<T>(A * M) : Matrix<T>::Zero(rows, n);
        CHECK(C1.isApprox(C0 + AM, tol));
        CHECK(C2.isApprox(C0 + AM, tol));
        CHECK(C3.isApprox(AM.rowwise() + bias.row(0), tol));
        if (K > 0)
          CHECK(C4.isApprox(AM, tol));
        else
          CHECK(C4.isZero());
      }
}

}  // namespace

TEST_CASE("Recurrent kernel: packed right-hand matrices give Eigen's product (double)", "[kernel]") {
  check_packed_rhs<double>(1e-12);
}

TEST_CASE("Recurrent kernel: packed right-hand matrices give Eigen's product (float)", "[kernel]") {
  check_packed_rhs<float>(1e-4);
}

TEST_CASE("Packed weight-gradient product: C += A^T B equals Eigen's product (double)", "[kernel]") {
  check_packed_tn_shapes<double>(1e-13);
}

TEST_CASE("Packed weight-gradient product: C += A^T B equals Eigen's product (float)", "[kernel]") {
  check_packed_tn_shapes<float>(1e-5);
}

TEST_CASE("Weight-gradient kernel: C += A^T B equals Eigen's product (double)", "[kernel]") {
  check_tn_shapes<double>(1e-13);
}

TEST_CASE("Weight-gradient kernel: C += A^T B equals Eigen's product (float)", "[kernel]") {
  check_tn_shapes<float>(1e-5);
}

TEST_CASE("Weight-gradient kernel: a hand-computed product", "[kernel]") {
  // A = [1 2; 3 4; 5 6] (K = 3, m = 2), B = [1 0; 0 1; 1 1] (n = 2), C = 1: C + A^T B = [7 9; 9 11].
  Matrix<double> A(3, 2), B(3, 2), C = Matrix<double>::Ones(2, 2), want(2, 2);
  A << 1, 2, 3, 4, 5, 6;
  B << 1, 0, 0, 1, 1, 1;
  want << 7, 9, 9, 11;
  detail::tn_mul_acc(A, B, C);
  CHECK(C == want);
}

TEST_CASE("Recurrent kernel: C += A M equals Eigen's product (double)", "[kernel]") { check_shapes<double>(1e-13); }

TEST_CASE("Recurrent kernel: C += A M equals Eigen's product (float)", "[kernel]") { check_shapes<float>(1e-5); }

TEST_CASE("Recurrent kernel: wide right-hand matrices by column tiles or panels, and k blocks (double)", "[kernel]") {
  check_panels<double>(1e-12);
}
TEST_CASE("Recurrent kernel: wide right-hand matrices by column tiles or panels, and k blocks (float)", "[kernel]") {
  check_panels<float>(1e-4);
}

TEST_CASE("Recurrent kernel: a hand-computed product", "[kernel]") {
  // A = [1 2; 3 4; 5 6], M = [1 0 -1; 2 1 0], C = 1: C + A M = [6 3 0; 12 5 -2; 18 7 -4].
  Matrix<double> A(3, 2), M(2, 3), C = Matrix<double>::Ones(3, 3), want(3, 3);
  A << 1, 2, 3, 4, 5, 6;
  M << 1, 0, -1, 2, 1, 0;
  want << 6, 3, 0, 12, 5, -2, 18, 7, -4;
  detail::rec_mul_acc(A, M, C);
  CHECK(C == want);
}

TEST_CASE("padded_rows: at least the rows, in an odd number of whole cache lines", "[kernel]") {
  for (Index rows = 1; rows <= 300; ++rows) {
    const Index f = detail::padded_rows<float>(rows), d = detail::padded_rows<double>(rows);
    CAPTURE(rows, f, d);
    REQUIRE(f >= rows);
    REQUIRE(f % 16 == 0);
    REQUIRE((f / 16) % 2 == 1);
    REQUIRE(f - rows < 32);
    REQUIRE(d >= rows);
    REQUIRE(d % 8 == 0);
    REQUIRE((d / 8) % 2 == 1);
    REQUIRE(d - rows < 16);
  }
  REQUIRE(detail::padded_rows<float>(128) == 144);  // 8 lines -> 9
  REQUIRE(detail::padded_rows<float>(48) == 48);    // 3 lines already
}

}  // namespace test_gemm_kernel
