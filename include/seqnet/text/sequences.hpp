#pragma once
/// \file
/// pad_sequences() and to_categorical() with Keras' semantics, and length statistics of encoded texts.
///
/// pad_sequences: N sequences of any lengths -> Tensor<int32> of shape (N, maxlen). A longer sequence is
/// cut (Truncating::Pre drops its FIRST ids and keeps the last maxlen, Post keeps the first maxlen); a
/// shorter one is filled with `value` (Padding::Pre fills at the FRONT, Post at the back). Keras' defaults
/// are Pre and Pre, so a padded review ends at its last word.
///
/// to_categorical: ids of shape S -> one-hot of shape S + (num_classes), id k -> e_k (so id 0 -> e_0). As
/// Keras, a trailing axis of extent 1 on a rank >= 2 input is dropped first: (N, 1) -> (N, num_classes).

#include "seqnet/core/error.hpp"
#include "seqnet/core/tensor.hpp"
#include "seqnet/core/types.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace seqnet::text {

/// Where pad_sequences adds padding.
enum class Padding { Pre, Post };
/// Which end pad_sequences cuts from a sequence longer than maxlen.
enum class Truncating { Pre, Post };

/// Options of pad_sequences (Keras' arguments and defaults).
struct PadOptions {
  Index maxlen = 0;  ///< output length; 0 = the longest sequence
  Padding padding = Padding::Pre;
  Truncating truncating = Truncating::Pre;
  std::int32_t value = 0;  ///< fill value
};

/// Pads / cuts every sequence to `maxlen` ids; returns a (sequences.size(), maxlen) tensor.
inline Tensor<std::int32_t> pad_sequences(const std::vector<std::vector<std::int32_t>>& sequences,
                                          const PadOptions& options = {}) {
  if (options.maxlen < 0)
    throw InvalidArgument("pad_sequences: maxlen " + std::to_string(options.maxlen) + " is negative");
  Index maxlen = options.maxlen;
  if (maxlen == 0)
    for (const auto& s : sequences) maxlen = std::max(maxlen, static_cast<Index>(s.size()));
  const auto n = static_cast<Index>(sequences.size());
  Tensor<std::int32_t> out({n, maxlen}, options.value);
  std::int32_t* data = out.data();
  for (Index i = 0; i < n; ++i) {
    const auto& s = sequences[static_cast<std::size_t>(i)];
    const auto len = static_cast<Index>(s.size());
    const Index keep = std::min(len, maxlen);
    // The kept window of s, then where it lands in the row.
    const Index src = (options.truncating == Truncating::Pre) ? len - keep : 0;
    const Index dst = (options.padding == Padding::Pre) ? maxlen - keep : 0;
    std::copy(s.begin() + src, s.begin() + src + keep, data + i * maxlen + dst);
  }
  return out;
}

/// One-hot encoding of integer class ids (Keras' to_categorical). num_classes 0 means max id + 1.
/// Throws InvalidArgument for a negative id or one >= num_classes.
template <typename T>
Tensor<T> to_categorical(const Tensor<std::int32_t>& ids, Index num_classes = 0) {
  static_assert(std::is_arithmetic<T>::value, "to_categorical: T must be an arithmetic type");
  if (ids.rank() == 0) throw InvalidArgument("to_categorical: ids tensor has no shape");
  if (num_classes < 0)
    throw InvalidArgument("to_categorical: num_classes " + std::to_string(num_classes) + " is negative");
  for (std::int32_t id : ids.values())
    if (id < 0) throw InvalidArgument("to_categorical: id " + std::to_string(id) + " is negative");
  if (num_classes == 0) {
    for (std::int32_t id : ids.values()) num_classes = std::max<Index>(num_classes, Index{id} + 1);
  }
  std::vector<Index> shape = ids.shape();
  if (shape.size() >= 2 && shape.back() == 1) shape.pop_back();
  shape.push_back(num_classes);
  Tensor<T> out(shape, T(0));
  T* data = out.data();
  Index row = 0;
  for (std::int32_t id : ids.values()) {
    if (id >= num_classes)
      throw InvalidArgument("to_categorical: id " + std::to_string(id) + " outside [0, " + std::to_string(num_classes) +
                            ")");
    data[row * num_classes + id] = T(1);
    ++row;
  }
  return out;
}

/// Summary of sequence lengths (the chapter's "mean 239, median 178").
struct LengthStats {
  Index count = 0;
  Index min = 0;
  Index max = 0;
  double mean = 0.0;
  double median = 0.0;  ///< middle length; the mean of the two middle ones for an even count (as numpy)
};

/// Length statistics of `sequences` (all zero for an empty list).
template <typename Seq>
LengthStats length_stats(const std::vector<Seq>& sequences) {
  LengthStats st;
  st.count = static_cast<Index>(sequences.size());
  if (sequences.empty()) return st;
  std::vector<Index> len;
  len.reserve(sequences.size());
  double sum = 0.0;
  for (const auto& s : sequences) {
    len.push_back(static_cast<Index>(s.size()));
    sum += static_cast<double>(s.size());
  }
  std::sort(len.begin(), len.end());
  st.min = len.front();
  st.max = len.back();
  st.mean = sum / static_cast<double>(len.size());
  const std::size_t mid = len.size() / 2;
  st.median = len.size() % 2 == 1 ? static_cast<double>(len[mid]) : 0.5 * static_cast<double>(len[mid - 1] + len[mid]);
  return st;
}

}  // namespace seqnet::text
