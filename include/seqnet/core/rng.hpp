#pragma once
/// \file
/// Rng: the explicit, seeded random number generator every random choice in seqnet goes through
/// (initialisation, shuffling, dropout). It uses std::mt19937_64, whose output sequence the C++ standard
/// fixes, and its own distributions (the standard library's are implementation-defined), so one seed gives
/// the same numbers with every compiler.

#include <cmath>
#include <cstdint>
#include <random>

namespace seqnet {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) : engine_(seed) {}

  void seed(std::uint64_t s) {
    engine_.seed(s);
    has_spare_ = false;
  }
  /// 64 random bits.
  std::uint64_t next_u64() { return engine_(); }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform in [a, b).
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  /// Uniform integer in [0, n) for n > 0, unbiased (rejects the top partial range of 64-bit values).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const std::uint64_t x = engine_();
      if (x >= threshold) return x % n;
    }
  }
  /// Standard normal (Box-Muller, the second value kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * 3.14159265358979323846 * u2;
    spare_ = r * std::sin(angle);
    has_spare_ = true;
    return r * std::cos(angle);
  }
  /// A seed for a child generator (for per-thread or per-step streams), derived deterministically.
  std::uint64_t split() { return engine_() ^ 0x9E3779B97F4A7C15ULL; }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace seqnet
