#pragma once
/// \file
/// Basic types: Eigen matrix aliases, the per-sample Shape, the SeqBatch that flows between layers,
/// and the training/evaluation Mode.
///
/// Data layout (see docs/design.md): a batch of B sequences of T steps with F features is ONE
/// column-major Eigen matrix of (T*B) x F. Row t*B + b holds sample b at step t, so for one step and one
/// feature the B values of the batch are contiguous. A batch without a time axis is the same with T = 1.

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace seqnet {

using Index = Eigen::Index;

template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;  // column-major
template <typename T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <typename T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;
template <typename T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;

/// Whether a forward pass is part of training (dropout active, caches kept for backward) or not.
enum class Mode { Train, Eval };

/// How the values of a batch encode its features.
enum class Encoding {
  Dense,   ///< `features` real values per step.
  Ids,     ///< one integer id per step, stored as a value of T (for Embedding).
  OneHot,  ///< one integer id per step standing for a one-hot vector of size `features` (id 0 is e0).
};

/// The shape of ONE sample (the batch axis is not part of it), as Keras' input_shape.
struct Shape {
  Index steps = 0;     ///< number of time steps; 0 means the sample has no time axis
  Index features = 0;  ///< features per step (for OneHot: the depth; for Ids: 1)
  Encoding encoding = Encoding::Dense;

  bool is_sequence() const { return steps > 0; }
  /// Rows that one sample occupies in a batch matrix (steps, or 1 without a time axis).
  Index rows_per_sample() const { return steps > 0 ? steps : 1; }
  /// Columns of the batch matrix: features for Dense data, 1 for ids.
  Index columns() const { return encoding == Encoding::Dense ? features : 1; }

  /// A sequence of integer ids (input of Embedding), as Keras' input_shape=(steps,).
  static Shape ids(Index steps) { return Shape{steps, 1, Encoding::Ids}; }
  /// A sequence of ids read as one-hot vectors of size `depth` (Keras' to_categorical input),
  /// never materialised.
  static Shape one_hot(Index steps, Index depth) { return Shape{steps, depth, Encoding::OneHot}; }
  /// A sequence of `features` real values per step.
  static Shape sequence(Index steps, Index features) { return Shape{steps, features, Encoding::Dense}; }
  /// A vector of `features` real values (no time axis).
  static Shape vector(Index features) { return Shape{0, features, Encoding::Dense}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.steps == b.steps && a.features == b.features && a.encoding == b.encoding;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
};

/// "(None, 100, 16)"-style text of a shape with the batch axis first, as Keras' summary prints it.
inline std::string to_string(const Shape& s) {
  std::string out = "(None, ";
  if (s.steps > 0) out += std::to_string(s.steps) + ", ";
  out += std::to_string(s.features) + ")";
  return out;
}

/// A batch flowing between layers. `values` is (rows_per_sample * batch) x columns, column-major,
/// row t*batch + b = sample b at step t. `mask`, when not empty, has one entry per row (1 = a real
/// step, 0 = padding) and is produced by Embedding(mask_zero) and honoured by the recurrent layers.
template <typename T>
struct SeqBatch {
  static_assert(std::is_floating_point<T>::value, "seqnet: the scalar type must be float or double");
  Matrix<T> values;
  Index batch = 0;
  Shape shape;
  std::vector<std::uint8_t> mask;

  Index steps() const { return shape.rows_per_sample(); }
  bool has_mask() const { return !mask.empty(); }
  /// Rows of step t (all samples of the batch), as a block of `values`.
  auto step(Index t) { return values.middleRows(t * batch, batch); }
  auto step(Index t) const { return values.middleRows(t * batch, batch); }
};

}  // namespace seqnet
