// The register-tiled table kernels of detail/tiles.hpp against plain loops, over shapes that reach
// every path: full S x S tiles, half-packet tiles for the columns left (8 of 24), scalar columns, the rows
// beyond the last full packet, and none at all. Repeated ids in the scatter, the per-row scale of a dropped
// one-hot input, blocks with a column stride. Float and double.
#include "kernel_helpers.hpp"

#include <catch2/catch.hpp>
#include <seqnet/core/rng.hpp>
#include <seqnet/detail/projection.hpp>

#include <cstdint>
#include <limits>
#include <vector>

namespace test_table_kernels {

using namespace seqnet;
using seqnet_test::random_matrix;

namespace {

std::vector<std::int32_t> random_ids(Index n, Index depth, Rng& rng) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
  for (auto& id : ids) id = static_cast<std::int32_t>(rng.uniform() * static_cast<double>(depth)) % depth;
  return ids;
}

const Index kRows[] = {0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 50};
const Index kCols[] = {1, 3, 4, 8, 12, 16, 24, 32, 40};

template <typename T>
void check_transpose() {
  Rng rng(5);
  for (Index rows : kRows)
    for (Index cols : kCols) {
      const Matrix<T> big = random_matrix<T>(rows + 3, cols, rng);
      const auto src = big.middleRows(1, rows);
      // One column more than needed: no block of an empty matrix (Eigen offsets its null data pointer).
      Matrix<T> dst = Matrix<T>::Constant(cols + 2, rows + 1, T(7));
      detail::transpose_into(detail::cols_of(src), rows, cols, detail::mutable_cols_of(dst.topRows(cols)));
      INFO("rows " << rows << " cols " << cols);
      CHECK(dst.topLeftCorner(cols, rows) == src.transpose());
      CHECK((dst.bottomRows(2).array() == T(7)).all());  // nothing written beyond the block
      CHECK((dst.rightCols(1).array() == T(7)).all());
    }
}

template <typename T>
void check_gather(bool scaled) {
  Rng rng(6);
  const Index depth = 37;
  for (Index rows : kRows)
    for (Index cols : kCols) {
      const Matrix<T> Q = random_matrix<T>(cols, depth, rng);  // table row id = column id of Q
      const Matrix<T> b = random_matrix<T>(1, cols, rng);
      const auto ids = random_ids(rows, depth, rng);
      std::vector<T> scale(static_cast<std::size_t>(rows));
      for (auto& s : scale) s = static_cast<T>(rng.uniform(0.0, 2.0));
      Matrix<T> G = Matrix<T>::Constant(rows + 2, cols, T(7));
      detail::gather_table_rows(ids.data(), rows, detail::cols_of(Q), cols, b, detail::mutable_cols_of(G),
                                scaled ? scale.data() : nullptr);
      Matrix<T> want(rows, cols);
      for (Index r = 0; r < rows; ++r)
        for (Index c = 0; c < cols; ++c)
          want(r, c) =
              (scaled ? scale[static_cast<std::size_t>(r)] : T(1)) * Q(c, ids[static_cast<std::size_t>(r)]) + b(0, c);
      INFO("rows " << rows << " cols " << cols << " scaled " << scaled);
      CHECK(G.topRows(rows).isApprox(want, T(1e-6)));
      CHECK((G.bottomRows(2).array() == T(7)).all());
    }
}

template <typename T>
void check_scatter(bool scaled) {
  Rng rng(7);
  const Index depth = 9;  // few ids: many repeats within one tile
  for (Index rows : kRows)
    for (Index cols : kCols) {
      const Matrix<T> big = random_matrix<T>(rows + 4, cols, rng);
      const auto dG = big.topRows(rows);  // a block: column stride rows + 4
      const auto ids = random_ids(rows, depth, rng);
      std::vector<T> scale(static_cast<std::size_t>(rows));
      for (auto& s : scale) s = static_cast<T>(rng.uniform(0.0, 2.0));
      const Matrix<T> start = random_matrix<T>(depth, cols, rng);
      Matrix<T> dP = start, want = start;
      detail::RowMajorMatrix<T> work;
      detail::scatter_rows(ids, dG, dP, work, scaled ? scale.data() : nullptr);
      for (Index r = 0; r < rows; ++r)
        want.row(ids[static_cast<std::size_t>(r)]) += (scaled ? scale[static_cast<std::size_t>(r)] : T(1)) * dG.row(r);
      INFO("rows " << rows << " cols " << cols << " scaled " << scaled);
      CHECK(dP.isApprox(want, T(1e-5)));
    }
}

}  // namespace

TEST_CASE("Table kernels: the tiled transpose equals Eigen's transpose", "[kernel][table]") {
  check_transpose<float>();
  check_transpose<double>();
}

TEST_CASE("Table kernels: the gather from a transposed table equals a plain loop", "[kernel][table]") {
  for (bool scaled : {false, true}) {
    check_gather<float>(scaled);
    check_gather<double>(scaled);
  }
}

TEST_CASE("Table kernels: the tiled scatter-add equals a plain loop, repeated ids included", "[kernel][table]") {
  for (bool scaled : {false, true}) {
    check_scatter<float>(scaled);
    check_scatter<double>(scaled);
  }
}

TEST_CASE("Table kernels: a gather and a scatter by hand", "[kernel][table]") {
  // Table rows (as columns of Q): row 0 = (1, 2), row 1 = (3, 4), row 2 = (5, 6).
  Matrix<double> Q(2, 3);
  Q << 1, 3, 5, 2, 4, 6;
  Matrix<double> b(1, 2);
  b << 10, 20;
  const std::vector<std::int32_t> ids = {2, 0, 2};
  Matrix<double> G(3, 2);
  detail::gather_table_rows(ids.data(), 3, detail::cols_of(Q), 2, b, detail::mutable_cols_of(G));
  Matrix<double> want(3, 2);
  want << 15, 26, 11, 22, 15, 26;
  CHECK(G == want);
  // dP(id, :) += dG(r, :): row 2 gets rows 0 and 2 of dG, row 0 gets row 1, row 1 nothing.
  Matrix<double> dG(3, 2);
  dG << 1, 2, 3, 4, 5, 6;
  Matrix<double> dP = Matrix<double>::Zero(3, 2);
  detail::RowMajorMatrix<double> work;
  detail::scatter_rows(ids, dG, dP, work);
  Matrix<double> wantP(3, 2);
  wantP << 3, 4, 0, 0, 6, 8;
  CHECK(dP == wantP);
}

TEST_CASE("Table kernels: distinct ids by hand", "[kernel][table][distinct]") {
  // Ids become their positions in the ascending list of distinct ids.
  std::vector<std::int32_t> ids = {5, 2, 5, 9, 2};
  std::vector<std::int32_t> distinct, slot;
  detail::to_distinct_slots(ids.data(), 5, 10, distinct, slot);
  CHECK(distinct == std::vector<std::int32_t>{2, 5, 9});
  CHECK(ids == std::vector<std::int32_t>{1, 0, 1, 2, 0});
  // Again with a workspace already used: the earlier marks do not leak into the new list.
  std::vector<std::int32_t> more = {7, 7, 0};
  detail::to_distinct_slots(more.data(), 3, 10, distinct, slot);
  CHECK(distinct == std::vector<std::int32_t>{0, 7});
  CHECK(more == std::vector<std::int32_t>{1, 1, 0});

  // The count reads the values of a batch and gives -1 for a value that is not an id in [0, depth).
  SeqBatch<float> x;
  x.batch = 5;
  x.shape = Shape::ids(1);
  x.values.resize(5, 1);
  x.values << 5, 2, 5, 9, 2;
  CHECK(detail::count_distinct_ids(x, 10) == 3);
  CHECK(detail::count_distinct_ids(x, 9) == -1);  // 9 is outside [0, 9)
  for (float bad : {-1.0f, 2.5f, std::numeric_limits<float>::quiet_NaN()}) {
    x.values(3, 0) = bad;
    CHECK(detail::count_distinct_ids(x, 10) == -1);
  }
}

}  // namespace test_table_kernels
