#pragma once
/// \file
/// Tensor<T>: a dense, row-major N-d array with its shape, as numpy holds a data set: token ids
/// (samples x steps), one-hot or feature sequences (samples x steps x features), labels (samples) or
/// (samples x classes). It is the user-facing container of fit / evaluate / predict and of the text
/// utilities. Element access is bounds-checked through at(); data() gives the raw buffer.

#include "seqnet/core/error.hpp"
#include "seqnet/core/types.hpp"

#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

namespace seqnet {

template <typename T>
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::vector<Index> shape, T fill = T{}) : shape_(std::move(shape)) {
    data_.assign(static_cast<std::size_t>(count(shape_)), fill);
  }
  Tensor(std::vector<Index> shape, std::vector<T> data) : shape_(std::move(shape)), data_(std::move(data)) {
    if (static_cast<Index>(data_.size()) != count(shape_))
      throw ShapeError("Tensor: " + std::to_string(data_.size()) + " values do not fill shape " + shape_string());
  }

  const std::vector<Index>& shape() const { return shape_; }
  Index rank() const { return static_cast<Index>(shape_.size()); }
  /// Extent of axis i (0 for an axis beyond the rank).
  Index dim(Index i) const { return i < rank() ? shape_[static_cast<std::size_t>(i)] : 0; }
  Index size() const { return static_cast<Index>(data_.size()); }
  bool empty() const { return data_.empty(); }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  std::vector<T>& values() { return data_; }
  const std::vector<T>& values() const { return data_; }

  T& at(std::initializer_list<Index> idx) { return data_[offset(idx)]; }
  const T& at(std::initializer_list<Index> idx) const { return data_[offset(idx)]; }
  T& operator()(Index i) { return data_[offset({i})]; }
  const T& operator()(Index i) const { return data_[offset({i})]; }
  T& operator()(Index i, Index j) { return data_[offset({i, j})]; }
  const T& operator()(Index i, Index j) const { return data_[offset({i, j})]; }
  T& operator()(Index i, Index j, Index k) { return data_[offset({i, j, k})]; }
  const T& operator()(Index i, Index j, Index k) const { return data_[offset({i, j, k})]; }

  /// Values per sample (product of every axis but the first).
  Index sample_size() const { return rank() == 0 ? 0 : (shape_[0] == 0 ? 0 : size() / shape_[0]); }

  /// A copy with every value converted to U.
  template <typename U>
  Tensor<U> cast() const {
    std::vector<U> out(data_.size());
    for (std::size_t i = 0; i < data_.size(); ++i) out[i] = static_cast<U>(data_[i]);
    return Tensor<U>(shape_, std::move(out));
  }

  /// Samples [begin, end) along the first axis, as a new tensor.
  Tensor slice(Index begin, Index end) const {
    if (rank() == 0 || begin < 0 || end < begin || end > shape_[0])
      throw ShapeError("Tensor: slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside shape " +
                       shape_string());
    std::vector<Index> s = shape_;
    s[0] = end - begin;
    const Index per = sample_size();
    return Tensor(s, std::vector<T>(data_.begin() + begin * per, data_.begin() + end * per));
  }
  /// The samples listed in `rows` (in that order), as a new tensor.
  Tensor gather(const std::vector<Index>& rows) const {
    std::vector<Index> s = shape_;
    if (s.empty()) throw ShapeError("Tensor: gather on a rank-0 tensor");
    s[0] = static_cast<Index>(rows.size());
    const Index per = sample_size();
    std::vector<T> out;
    out.reserve(rows.size() * static_cast<std::size_t>(per));
    for (Index r : rows) {
      if (r < 0 || r >= shape_[0])
        throw ShapeError("Tensor: sample " + std::to_string(r) + " outside shape " + shape_string());
      out.insert(out.end(), data_.begin() + r * per, data_.begin() + (r + 1) * per);
    }
    return Tensor(s, std::move(out));
  }

  std::string shape_string() const {
    std::string s = "(";
    for (std::size_t i = 0; i < shape_.size(); ++i) s += (i ? ", " : "") + std::to_string(shape_[i]);
    return s + ")";
  }

 private:
  static Index count(const std::vector<Index>& shape) {
    Index n = 1;
    for (Index d : shape) {
      if (d < 0) throw ShapeError("Tensor: negative extent " + std::to_string(d));
      n *= d;
    }
    return n;
  }
  std::size_t offset(std::initializer_list<Index> idx) const {
    if (static_cast<Index>(idx.size()) != rank())
      throw ShapeError("Tensor: " + std::to_string(idx.size()) + " indices for a tensor of shape " + shape_string());
    std::size_t off = 0, k = 0;
    for (Index i : idx) {
      const Index d = shape_[k++];
      if (i < 0 || i >= d)
        throw ShapeError("Tensor: index " + std::to_string(i) + " outside axis of extent " + std::to_string(d) +
                         " in shape " + shape_string());
      off = off * static_cast<std::size_t>(d) + static_cast<std::size_t>(i);
    }
    return off;
  }

  std::vector<Index> shape_;
  std::vector<T> data_;
};

}  // namespace seqnet
