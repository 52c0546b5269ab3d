#pragma once
/// \file
/// Initializers with Keras' definitions. Weight matrices use Keras' orientation: a kernel is
/// (inputs x outputs), so fan_in = rows and fan_out = cols.
///  - glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out))
///  - orthogonal: a (rows x cols) matrix with orthonormal rows or columns, from the QR decomposition of a
///    standard normal matrix with the signs of R's diagonal folded into Q (as Keras' Orthogonal)
///  - uniform(a, b), zeros, ones, and unit_forget_bias (zeros with ones in the LSTM forget-gate block)

#include "seqnet/core/error.hpp"
#include "seqnet/core/rng.hpp"
#include "seqnet/core/types.hpp"

#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <string>

namespace seqnet {

struct Initializer {
  enum class Kind { Zeros, Ones, Uniform, GlorotUniform, Orthogonal, UnitForgetBias };
  Kind kind = Kind::Zeros;
  double a = 0.0;  ///< Uniform: lower bound; UnitForgetBias: number of units
  double b = 0.0;  ///< Uniform: upper bound

  static Initializer zeros() { return {Kind::Zeros, 0, 0}; }
  static Initializer ones() { return {Kind::Ones, 0, 0}; }
  static Initializer uniform(double lo, double hi) { return {Kind::Uniform, lo, hi}; }
  static Initializer glorot_uniform() { return {Kind::GlorotUniform, 0, 0}; }
  static Initializer orthogonal() { return {Kind::Orthogonal, 0, 0}; }
  /// LSTM bias (4 * units, gate order i, f, c, o): zeros with ones in the forget block.
  static Initializer unit_forget_bias(Index units) { return {Kind::UnitForgetBias, static_cast<double>(units), 0}; }
};

inline const char* to_string(Initializer::Kind k) {
  switch (k) {
    case Initializer::Kind::Zeros:
      return "zeros";
    case Initializer::Kind::Ones:
      return "ones";
    case Initializer::Kind::Uniform:
      return "uniform";
    case Initializer::Kind::GlorotUniform:
      return "glorot_uniform";
    case Initializer::Kind::Orthogonal:
      return "orthogonal";
    case Initializer::Kind::UnitForgetBias:
      return "unit_forget_bias";
  }
  return "?";
}

/// Fills `w` (rows x cols, any dense Eigen expression with write access) as `init` says, drawing from `rng`.
template <typename Derived>
void initialize(Eigen::MatrixBase<Derived>& w, const Initializer& init, Rng& rng) {
  using T = typename Derived::Scalar;
  const Index rows = w.rows(), cols = w.cols();
  switch (init.kind) {
    case Initializer::Kind::Zeros:
      w.setZero();
      break;
    case Initializer::Kind::Ones:
      w.setOnes();
      break;
    case Initializer::Kind::Uniform:
      for (Index j = 0; j < cols; ++j)
        for (Index i = 0; i < rows; ++i) w(i, j) = static_cast<T>(rng.uniform(init.a, init.b));
      break;
    case Initializer::Kind::GlorotUniform: {
      const double limit = std::sqrt(6.0 / static_cast<double>(rows + cols));
      // Row-major draw order, as the (fan_in, fan_out) array Keras fills.
      for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < cols; ++j) w(i, j) = static_cast<T>(rng.uniform(-limit, limit));
      break;
    }
    case Initializer::Kind::Orthogonal: {
      const Index n = std::max(rows, cols), m = std::min(rows, cols);
      Eigen::MatrixXd a(n, m);
      for (Index i = 0; i < n; ++i)
        for (Index j = 0; j < m; ++j) a(i, j) = rng.normal();
      Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
      Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(n, m);
      const Eigen::MatrixXd r = qr.matrixQR().topLeftCorner(m, m).template triangularView<Eigen::Upper>();
      for (Index j = 0; j < m; ++j)
        if (r(j, j) < 0) q.col(j) = -q.col(j);
      if (rows < cols)
        w = q.transpose().template cast<T>();
      else
        w = q.template cast<T>();
      break;
    }
    case Initializer::Kind::UnitForgetBias: {
      const Index units = static_cast<Index>(init.a);
      if (rows * cols != 4 * units)
        throw InvalidArgument("unit_forget_bias: expected 4*" + std::to_string(units) + " values, got " +
                              std::to_string(rows * cols));
      w.setZero();
      // A bias is a 1 x 4H row (or a 4H x 1 column); the forget block is entries [H, 2H).
      for (Index k = units; k < 2 * units; ++k) {
        if (rows == 1)
          w(0, k) = T(1);
        else
          w(k, 0) = T(1);
      }
      break;
    }
  }
}

template <typename Derived>
void initialize(Eigen::MatrixBase<Derived>&& w, const Initializer& init, Rng& rng) {
  initialize(w, init, rng);
}

}  // namespace seqnet
