#pragma once
/// \file
/// Losses with Keras' definitions, their gradients, and the fused paths from logits.
///
/// Shapes: y_pred, z (logits), dy, dz: B x U (B samples, U outputs); y_true: B x U, except for the sparse
/// categorical cross-entropy where it is B x 1 class ids in [0, U). Every function returns the SUM over the
/// B rows of the per-sample loss l_b; the caller divides (scale = 1/B gives Keras' batch mean). Gradients are
/// `scale * d(sum_b l_b)/d(input)`. eps = 1e-7 (Keras' backend epsilon).
///
/// On probabilities p (loss_forward_backward):
///   BCE:  l_b = (1/U) sum_u -(y log pc + (1-y) log(1-pc)),  pc = clip(p, eps, 1-eps)
///         dp  = scale (-(y/p) + (1-y)/(1-p)) / U   where p is inside [eps, 1-eps], else 0
///   CCE:  q = p / sum_u p (Keras normalises),  qc = clip(q, eps, 1-eps),  l_b = -sum_u y log qc
///         with c_u = -y_u/q_u where q_u is not clipped (else 0):  dp_u = scale (c_u - sum_k c_k q_k) / sum_k p_k
///   sparse CCE: the CCE with y = one_hot(id)
///   MSE:  l_b = (1/U) sum_u (p - y)^2,   dp = scale 2 (p - y) / U
///
/// From logits z (loss_from_logits; what the model uses when the last layer is Dense with sigmoid/softmax):
///   BCE + sigmoid: l_b = (1/U) sum_u max(z,0) - z y + log1p(exp(-|z|)),  dz = scale (sigmoid(z) - y) / U
///   CCE + softmax: l_b = sum_u y_u (lse(z) - z_u),   dz = scale (softmax(z) sum_u y_u - y)
///                  (= scale (softmax(z) - y) for labels that sum to 1); no clipping, finite for any finite z
///   sparse CCE + softmax: l_b = lse(z) - z_id,      dz = scale (softmax(z) - e_id)
///
/// Labels are checked first (check_labels): shape, finiteness, and sparse ids that are integers in [0, U).

#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

namespace seqnet {

enum class LossKind { BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, MeanSquaredError };

/// Keras' name: "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse".
inline const char* to_string(LossKind k) {
  switch (k) {
    case LossKind::BinaryCrossentropy:
      return "binary_crossentropy";
    case LossKind::CategoricalCrossentropy:
      return "categorical_crossentropy";
    case LossKind::SparseCategoricalCrossentropy:
      return "sparse_categorical_crossentropy";
    case LossKind::MeanSquaredError:
      return "mean_squared_error";
  }
  return "?";
}

/// Parses Keras' names (and "mse").
inline LossKind loss_from_string(const std::string& s) {
  if (s == "binary_crossentropy") return LossKind::BinaryCrossentropy;
  if (s == "categorical_crossentropy") return LossKind::CategoricalCrossentropy;
  if (s == "sparse_categorical_crossentropy") return LossKind::SparseCategoricalCrossentropy;
  if (s == "mean_squared_error" || s == "mse") return LossKind::MeanSquaredError;
  throw InvalidArgument("unknown loss '" + s +
                        "' (expected binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy "
                        "or mean_squared_error)");
}

namespace detail {
constexpr double kLossEpsilon = 1e-7;

/// Keeps a parameter out of template argument deduction, so T comes from the matrices alone and callers
/// can pass `nullptr` for the gradient and a `double` literal as the scale of a float loss.
template <typename T>
struct NonDeduced {
  using type = T;
};
template <typename T>
using non_deduced_t = typename NonDeduced<T>::type;

inline std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// log(sum_u exp(z_u)) of row r, stable; also returns the row maximum.
template <typename T>
inline double log_sum_exp_row(const Matrix<T>& z, Index r, double& max_out) {
  const Index U = z.cols();
  double m = static_cast<double>(z(r, 0));
  for (Index u = 1; u < U; ++u) m = std::max(m, static_cast<double>(z(r, u)));
  double s = 0.0;
  for (Index u = 0; u < U; ++u) s += std::exp(static_cast<double>(z(r, u)) - m);
  max_out = m;
  return m + std::log(s);
}

/// Position (row, column) of the first label, column by column, that check_labels rejects (not finite; for
/// a sparse loss, not an integer in [0, outputs)), or (-1, -1) when every label is valid.
template <typename Derived>
std::pair<Index, Index> first_bad_label(LossKind kind, const Eigen::MatrixBase<Derived>& y_true, Index outputs) {
  const bool sparse = kind == LossKind::SparseCategoricalCrossentropy;
  using T = typename Derived::Scalar;
  for (Index u = 0; u < y_true.cols(); ++u)
    for (Index b = 0; b < y_true.rows(); ++b) {
      const T v = y_true(b, u);
      if (!std::isfinite(v) || (sparse && (v < T(0) || !(v < static_cast<T>(outputs)) || v != std::floor(v))))
        return {b, u};
    }
  return {-1, -1};
}
}  // namespace detail

/// Checks that y_true fits a prediction of `rows` x `outputs` for this loss; throws ShapeError (shape) or
/// InvalidArgument (a NaN or infinite label, a sparse id that is not an integer in [0, outputs)).
/// `where` prefixes every message ("fit: "). With steps > 1 row r is sample r / steps at step r % steps
/// (a sequence output, sample-major), and messages name both.
template <typename Derived>
void check_labels(LossKind kind, const Eigen::MatrixBase<Derived>& y_true, Index rows, Index outputs,
                  const std::string& where, Index steps = 1) {
  const bool sparse = kind == LossKind::SparseCategoricalCrossentropy;
  const Index want_cols = sparse ? 1 : outputs;
  if (y_true.rows() != rows || y_true.cols() != want_cols) {
    std::string msg = where + to_string(kind) + ": labels are " + std::to_string(y_true.rows()) + "x" +
                      std::to_string(y_true.cols()) + ", expected " + std::to_string(rows) + "x" +
                      std::to_string(want_cols);
    if (sparse)
      msg += " (one class id per sample)";
    else
      msg += " (one label per output; the model has " + std::to_string(outputs) + " outputs)";
    throw ShapeError(msg);
  }
  if (sparse && outputs <= 0) throw ShapeError(where + to_string(kind) + ": the prediction has no classes");
  const auto bad = detail::first_bad_label(kind, y_true, outputs);
  if (bad.first < 0) return;
  const Index b = bad.first, u = bad.second;
  const std::string sample =
      steps > 1 ? std::to_string(b / steps) + ", step " + std::to_string(b % steps) : std::to_string(b);
  const double v = static_cast<double>(y_true(b, u));
  if (!std::isfinite(v))
    throw InvalidArgument(where + to_string(kind) + ": label of sample " + sample +
                          (sparse ? "" : ", output " + std::to_string(u)) + " is " + detail::number(v));
  throw InvalidArgument(where + to_string(kind) + ": class id " + detail::number(v) + " of sample " + sample +
                        " is not an integer in [0, " + std::to_string(outputs) + ")");
}

/// The summed loss of probabilities y_pred against y_true; with dy, also scale * its gradient (dy is
/// resized to y_pred's shape). See the file comment for the formulas.
template <typename T>
double loss_forward_backward(LossKind kind, const Matrix<T>& y_pred, const detail::non_deduced_t<Matrix<T>>& y_true,
                             detail::non_deduced_t<T> scale, detail::non_deduced_t<Matrix<T>>* dy) {
  const Index B = y_pred.rows(), U = y_pred.cols();
  if (U == 0) throw ShapeError(std::string("loss: ") + to_string(kind) + ": the prediction has no outputs");
  check_labels(kind, y_true, B, U, "loss: ");
  if (dy) dy->resize(B, U);
  const double eps = detail::kLossEpsilon, s = static_cast<double>(scale);
  double total = 0.0;
  switch (kind) {
    case LossKind::BinaryCrossentropy: {
      const double inv_u = 1.0 / static_cast<double>(U);
      for (Index u = 0; u < U; ++u) {
        for (Index b = 0; b < B; ++b) {
          const double p = static_cast<double>(y_pred(b, u)), y = static_cast<double>(y_true(b, u));
          const double pc = std::min(std::max(p, eps), 1.0 - eps);
          total -= (y * std::log(pc) + (1.0 - y) * std::log(1.0 - pc)) * inv_u;
          // dp = -(y/p) + (1-y)/(1-p), zero where the clip is active (as the gradient of tf.clip_by_value)
          if (dy) (*dy)(b, u) = static_cast<T>(pc == p ? s * (-(y / p) + (1.0 - y) / (1.0 - p)) * inv_u : 0.0);
        }
      }
      break;
    }
    case LossKind::CategoricalCrossentropy:
    case LossKind::SparseCategoricalCrossentropy: {
      const bool sparse = kind == LossKind::SparseCategoricalCrossentropy;
      for (Index b = 0; b < B; ++b) {
        double sum_p = 0.0;
        for (Index u = 0; u < U; ++u) sum_p += static_cast<double>(y_pred(b, u));
        const Index id = sparse ? static_cast<Index>(y_true(b, 0)) : -1;
        auto label = [&](Index u) { return sparse ? (u == id ? 1.0 : 0.0) : static_cast<double>(y_true(b, u)); };
        double cq = 0.0;  // sum_k c_k q_k
        for (Index u = 0; u < U; ++u) {
          const double y = label(u);
          const double q = static_cast<double>(y_pred(b, u)) / sum_p;
          const double qc = std::min(std::max(q, eps), 1.0 - eps);
          if (y != 0.0) total -= y * std::log(qc);  // l = -sum y log qc
          if (dy && qc == q) cq += -y;              // c_u q_u = -y_u
        }
        if (dy) {
          for (Index u = 0; u < U; ++u) {
            const double y = label(u);
            const double q = static_cast<double>(y_pred(b, u)) / sum_p;
            const double qc = std::min(std::max(q, eps), 1.0 - eps);
            const double c = qc == q ? -y / q : 0.0;
            (*dy)(b, u) = static_cast<T>(s * (c - cq) / sum_p);  // dp_u = (c_u - sum c q) / sum p
          }
        }
      }
      break;
    }
    case LossKind::MeanSquaredError: {
      const double inv_u = 1.0 / static_cast<double>(U);
      for (Index u = 0; u < U; ++u) {
        for (Index b = 0; b < B; ++b) {
          const double d = static_cast<double>(y_pred(b, u)) - static_cast<double>(y_true(b, u));
          total += d * d * inv_u;
          if (dy) (*dy)(b, u) = static_cast<T>(s * 2.0 * d * inv_u);  // dp = 2 (p - y) / U
        }
      }
      break;
    }
  }
  return total;
}

/// The summed loss from pre-activation logits z: BCE with sigmoid, CCE and sparse CCE with softmax. With dz,
/// also scale * its gradient with respect to z. MSE has no fused path (InvalidArgument).
template <typename T>
double loss_from_logits(LossKind kind, const Matrix<T>& z, const detail::non_deduced_t<Matrix<T>>& y_true,
                        detail::non_deduced_t<T> scale, detail::non_deduced_t<Matrix<T>>* dz) {
  const Index B = z.rows(), U = z.cols();
  if (kind == LossKind::MeanSquaredError)
    throw InvalidArgument("loss: mean_squared_error has no fused path from logits; use loss_forward_backward");
  if (U == 0) throw ShapeError(std::string("loss: ") + to_string(kind) + ": the logits have no outputs");
  check_labels(kind, y_true, B, U, "loss: ");
  if (dz) dz->resize(B, U);
  const double s = static_cast<double>(scale);
  double total = 0.0;
  if (kind == LossKind::BinaryCrossentropy) {
    const double inv_u = 1.0 / static_cast<double>(U);
    for (Index u = 0; u < U; ++u) {
      for (Index b = 0; b < B; ++b) {
        const double x = static_cast<double>(z(b, u)), y = static_cast<double>(y_true(b, u));
        const double e = std::exp(-std::abs(x));  // in (0, 1]: never overflows
        total += (std::max(x, 0.0) - x * y + std::log1p(e)) * inv_u;
        if (dz) {
          const double sig = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
          (*dz)(b, u) = static_cast<T>(s * (sig - y) * inv_u);  // dz = (sigmoid(z) - y) / U
        }
      }
    }
    return total;
  }
  const bool sparse = kind == LossKind::SparseCategoricalCrossentropy;
  for (Index b = 0; b < B; ++b) {
    double m = 0.0;
    const double lse = detail::log_sum_exp_row(z, b, m);
    const Index id = sparse ? static_cast<Index>(y_true(b, 0)) : -1;
    double sum_y = 0.0;
    for (Index u = 0; u < U; ++u) {
      const double y = sparse ? (u == id ? 1.0 : 0.0) : static_cast<double>(y_true(b, u));
      if (y != 0.0) total += y * (lse - static_cast<double>(z(b, u)));  // l = sum y (lse - z)
      sum_y += y;
    }
    if (dz) {
      for (Index u = 0; u < U; ++u) {
        const double y = sparse ? (u == id ? 1.0 : 0.0) : static_cast<double>(y_true(b, u));
        const double p = std::exp(static_cast<double>(z(b, u)) - lse);
        (*dz)(b, u) = static_cast<T>(s * (p * sum_y - y));  // dz = softmax(z) sum(y) - y
      }
    }
  }
  return total;
}

}  // namespace seqnet
