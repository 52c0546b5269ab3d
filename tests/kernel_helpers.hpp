#pragma once
// Helpers shared by the kernel tests (test_gemm_kernel.cpp, test_table_kernels.cpp).

#include <seqnet/core/rng.hpp>
#include <seqnet/core/types.hpp>

namespace seqnet_test {

// An r x c matrix of values drawn uniformly from [-1, 1).
template <typename T>
seqnet::Matrix<T> random_matrix(seqnet::Index r, seqnet::Index c, seqnet::Rng& rng) {
  seqnet::Matrix<T> m(r, c);
  for (seqnet::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(rng.uniform(-1.0, 1.0));
  return m;
}

}  // namespace seqnet_test
