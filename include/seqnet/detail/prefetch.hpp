#pragma once
/// \file
/// Asking for cache lines before they are written, when another core holds them.

#include "seqnet/core/types.hpp"

namespace seqnet {
namespace detail {

/// Requests every cache line of p[0..n) for writing, without waiting. A multi-threaded training step
/// writes arrays whose lines the other core has just read or written (the weights, which every thread reads
/// in its forward; a gradient array that another thread summed into): each store to such a line waits for
/// the line to be taken from that core, and a pass of stores waits for them one after another. Issued up
/// front, the requests travel together while the thread does other work. With GCC and Clang this is the
/// write prefetch (PREFETCHW where the target has it, as with -march=native on current x86; a read
/// prefetch otherwise); elsewhere it does nothing.
template <typename T>
inline void prefetch_for_write(const T* p, Index n) {
#if defined(__GNUC__) || defined(__clang__)
  constexpr Index line = 64 / static_cast<Index>(sizeof(T));
  for (Index i = 0; i < n; i += line) __builtin_prefetch(p + i, 1, 3);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace detail
}  // namespace seqnet
