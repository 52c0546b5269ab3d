#pragma once
/// \file
/// The thread's floating-point control word, and a scope that sets it. Sequential's training and inference
/// run with denormal (subnormal) numbers flushed to zero, as TensorFlow, and so Keras, does on the CPU: a
/// multiplication whose result or operand is denormal costs a microcode assist of about a hundred cycles on
/// Intel cores, and backpropagation through time drives gradients through the denormal range (PyTorch, which
/// computes them, trained big_lstm an order of magnitude slower on an Intel Xeon: bench/README.md; seqnet's
/// own benchmarks showed no difference: docs/model.md). The thread pool runs each task under its caller's
/// control word (thread_pool.hpp), so the workers flush exactly when the caller does.
///
/// On x86 the control word is MXCSR's control bits: FTZ (bit 15) writes a denormal result as zero, DAZ (bit 6)
/// reads a denormal operand as zero; both cover float and double in SSE and AVX code. MXCSR's six sticky
/// exception flags (bits 0 to 5) are not part of the word: reading leaves them out, setting keeps the
/// thread's own. Elsewhere these functions do nothing and denormals are computed as usual.

#include <cstdint>

#if defined(__SSE__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 1)
#include <xmmintrin.h>
#define SEQNET_HAS_MXCSR 1
#else
#define SEQNET_HAS_MXCSR 0
#endif

namespace seqnet {
namespace detail {

using FloatEnv = std::uint32_t;

/// Whether flush_denormals() has an effect on this CPU.
constexpr bool kCanFlushDenormals = SEQNET_HAS_MXCSR != 0;

/// MXCSR's sticky exception flags, which the control word leaves out.
constexpr FloatEnv kFloatEnvFlags = 0x3Fu;

/// The calling thread's control word (0 where there is none).
inline FloatEnv float_env() {
#if SEQNET_HAS_MXCSR
  return _mm_getcsr() & ~kFloatEnvFlags;
#else
  return 0;
#endif
}

/// Sets the calling thread's control word; its exception flags stay as they are.
inline void set_float_env(FloatEnv env) {
#if SEQNET_HAS_MXCSR
  _mm_setcsr((_mm_getcsr() & kFloatEnvFlags) | (env & ~kFloatEnvFlags));
#else
  (void)env;
#endif
}

/// `env` with denormal results and operands flushed to zero.
inline FloatEnv flush_denormals(FloatEnv env) {
#if SEQNET_HAS_MXCSR
  return env | 0x8040u;  // FTZ | DAZ
#else
  return env;
#endif
}

/// Sets the thread's control word to `env` for the scope's lifetime, then restores the previous one (also
/// when an exception leaves the scope). Writes the register only when the word changes.
class ScopedFloatEnv {
 public:
  explicit ScopedFloatEnv(FloatEnv env) : saved_(float_env()), changed_(env != saved_) {
    if (changed_) set_float_env(env);
  }
  ScopedFloatEnv(const ScopedFloatEnv&) = delete;
  ScopedFloatEnv& operator=(const ScopedFloatEnv&) = delete;
  ~ScopedFloatEnv() {
    if (changed_) set_float_env(saved_);
  }

 private:
  FloatEnv saved_;
  bool changed_;
};

}  // namespace detail
}  // namespace seqnet

#undef SEQNET_HAS_MXCSR
