#pragma once
/// \file
/// Accuracy metrics with Keras' definitions. y_pred: B x U probabilities (or any scores for the categorical
/// ones); y_true: B x U, or B x 1 class ids for the sparse metric. metric_sum returns the SUM over the B rows of
/// the per-sample value, so batches of different sizes combine exactly (divide by the sample count).
///   binary_accuracy:              (1/U) sum_u [ (p_u > 0.5) == y_u ]   (labels 0 or 1)
///   categorical_accuracy:         [ argmax_u p_u == argmax_u y_u ]
///   sparse_categorical_accuracy:  [ argmax_u p_u == id ]
/// argmax takes the first maximum (as numpy); a NaN score never wins.

#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"
#include "seqnet/losses/losses.hpp"

#include <string>

namespace seqnet {

enum class Metric { BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy };

/// Keras' metric names. (A model shows them as "accuracy", as Keras does for metrics=["accuracy"].)
inline const char* to_string(Metric m) {
  switch (m) {
    case Metric::BinaryAccuracy:
      return "binary_accuracy";
    case Metric::CategoricalAccuracy:
      return "categorical_accuracy";
    case Metric::SparseCategoricalAccuracy:
      return "sparse_categorical_accuracy";
  }
  return "?";
}

inline Metric metric_from_string(const std::string& s) {
  if (s == "binary_accuracy") return Metric::BinaryAccuracy;
  if (s == "categorical_accuracy") return Metric::CategoricalAccuracy;
  if (s == "sparse_categorical_accuracy") return Metric::SparseCategoricalAccuracy;
  if (s == "accuracy" || s == "acc")
    throw InvalidArgument("metric '" + s + "' depends on the loss; use accuracy_for(LossKind)");
  throw InvalidArgument("unknown metric '" + s +
                        "' (expected binary_accuracy, categorical_accuracy or sparse_categorical_accuracy)");
}

/// The accuracy Keras picks for metrics=["accuracy"] with this loss.
inline Metric accuracy_for(LossKind loss) {
  switch (loss) {
    case LossKind::CategoricalCrossentropy:
      return Metric::CategoricalAccuracy;
    case LossKind::SparseCategoricalCrossentropy:
      return Metric::SparseCategoricalAccuracy;
    case LossKind::BinaryCrossentropy:
    case LossKind::MeanSquaredError:
      break;
  }
  return Metric::BinaryAccuracy;
}

namespace detail {
/// Column of the first maximum of row r; NaN entries never win.
template <typename T>
inline Index argmax_row(const Matrix<T>& m, Index r) {
  Index best = 0;
  for (Index u = 1; u < m.cols(); ++u)
    if (m(r, u) > m(r, best) || (m(r, best) != m(r, best) && m(r, u) == m(r, u))) best = u;
  return best;
}
}  // namespace detail

/// Sum over the rows of the per-sample metric. Throws ShapeError when the shapes do not fit.
template <typename T>
double metric_sum(Metric metric, const Matrix<T>& y_pred, const detail::non_deduced_t<Matrix<T>>& y_true) {
  const Index B = y_pred.rows(), U = y_pred.cols();
  const Index want_cols = metric == Metric::SparseCategoricalAccuracy ? 1 : U;
  if (y_true.rows() != B || y_true.cols() != want_cols || U == 0)
    throw ShapeError(std::string(to_string(metric)) + ": labels are " + std::to_string(y_true.rows()) + "x" +
                     std::to_string(y_true.cols()) + ", predictions " + std::to_string(B) + "x" + std::to_string(U) +
                     ", expected labels " + std::to_string(B) + "x" + std::to_string(want_cols));
  double total = 0.0;
  switch (metric) {
    case Metric::BinaryAccuracy: {
      // sum_b (matches_b / U) = (all matches) / U, exact for whole counts
      Index matches = 0;
      for (Index u = 0; u < U; ++u)
        for (Index b = 0; b < B; ++b) {
          const T predicted = y_pred(b, u) > T(0.5) ? T(1) : T(0);
          if (predicted == y_true(b, u)) ++matches;
        }
      total = static_cast<double>(matches) / static_cast<double>(U);
      break;
    }
    case Metric::CategoricalAccuracy:
      for (Index b = 0; b < B; ++b)
        if (detail::argmax_row(y_pred, b) == detail::argmax_row(y_true, b)) total += 1.0;
      break;
    case Metric::SparseCategoricalAccuracy:
      for (Index b = 0; b < B; ++b)
        if (static_cast<T>(detail::argmax_row(y_pred, b)) == y_true(b, 0)) total += 1.0;
      break;
  }
  return total;
}

}  // namespace seqnet
