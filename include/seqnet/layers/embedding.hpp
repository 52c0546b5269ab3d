#pragma once
/// \file
/// Embedding: maps each integer id to a learned row of E (Keras' Embedding).
///
/// Shapes (R = steps*B rows, V = input_dim, D = output_dim):
///   x: R x 1 ids (Encoding::Ids, steps > 0), E ("embeddings"): V x D, y: R x D
/// Forward:  y_r = E[x_r, :]                    (a gather; every id checked to be an integer in [0, V))
///           mask_zero: mask_r = (x_r != 0)    (the padding id 0 masks its step for the layers after)
/// Backward: dE[x_r, :] += dy_r for every row r (a scatter-add: repeated ids accumulate); no dx (ids).
/// Initializer: uniform(-0.05, 0.05) (Keras). Cache: none beyond the pointer to x the base class keeps.

#include "seqnet/detail/projection.hpp"
#include "seqnet/layers/layer.hpp"

namespace seqnet {

struct EmbeddingOptions {
  /// Id 0 is padding: its steps are masked for the following layers (Keras' mask_zero).
  bool mask_zero = false;
};

template <typename T>
class Embedding final : public Layer<T> {
 public:
  Embedding(Index input_dim, Index output_dim, EmbeddingOptions options = {})
      : input_dim_(input_dim), output_dim_(output_dim), opt_(options) {
    if (input_dim <= 0)
      throw InvalidArgument("Embedding: input_dim must be positive, got " + std::to_string(input_dim));
    if (output_dim <= 0)
      throw InvalidArgument("Embedding: output_dim must be positive, got " + std::to_string(output_dim));
  }

  std::string type_name() const override { return "Embedding"; }
  std::string default_name() const override { return "embedding"; }
  Config config() const override {
    Config c;
    c.set("input_dim", static_cast<long long>(input_dim_));
    c.set("output_dim", static_cast<long long>(output_dim_));
    c.set("mask_zero", opt_.mask_zero);
    return c;
  }
  static std::unique_ptr<Layer<T>> from_config(const Config& c) {
    return std::make_unique<Embedding<T>>(static_cast<Index>(c.get_int("input_dim")),
                                          static_cast<Index>(c.get_int("output_dim")),
                                          EmbeddingOptions{c.get_bool("mask_zero")});
  }
  std::unique_ptr<Layer<T>> clone_unbuilt() const override {
    return std::make_unique<Embedding<T>>(input_dim_, output_dim_, opt_);
  }

  Index input_dim() const { return input_dim_; }
  Index output_dim() const { return output_dim_; }
  bool mask_zero() const { return opt_.mask_zero; }

 protected:
  Shape do_build(const Shape& in) override {
    if (in.encoding != Encoding::Ids || in.features != 1 || in.steps <= 0)
      throw ShapeError(this->where() + "expects a sequence of integer ids (Shape::ids(steps)), got " + to_string(in) +
                       (in.encoding == Encoding::Ids ? "" : " of real values"));
    this->declare_param("embeddings", input_dim_, output_dim_, Initializer::uniform(-0.05, 0.05));
    return Shape::sequence(in.steps, output_dim_);
  }

  void do_forward(const SeqBatch<T>& x, SeqBatch<T>& y, Mode, Rng*) override {
    detail::read_ids(x, input_dim_, this->where(), ids_);
    const Index rows = x.values.rows();
    detail::gather_rows(ids_, this->param(0), zero_row_.setZero(1, output_dim_), y.values);  // y_r = E[x_r, :]
    if (opt_.mask_zero) {
      y.mask.resize(static_cast<std::size_t>(rows));
      for (Index r = 0; r < rows; ++r)
        y.mask[static_cast<std::size_t>(r)] = ids_[static_cast<std::size_t>(r)] != 0 ? 1 : 0;
      // An incoming mask (rare for ids) still applies: a step is real only if both say so.
      if (x.has_mask())
        for (std::size_t r = 0; r < y.mask.size(); ++r) y.mask[r] = static_cast<std::uint8_t>(y.mask[r] && x.mask[r]);
    } else {
      y.mask = x.mask;
    }
  }

  void do_backward(const SeqBatch<T>&, const SeqBatch<T>& dy, SeqBatch<T>&) override {
    // ids_ are the ids of the forward this backward belongs to (forward checked them).
    detail::scatter_rows(ids_, dy.values, this->grad(0), work_);  // dE[x_r, :] += dy_r
  }

 private:
  Index input_dim_, output_dim_;
  EmbeddingOptions opt_;
  std::vector<std::int32_t> ids_;   // the ids of the last forward
  Matrix<T> zero_row_;              // gather_rows adds a bias row; an embedding has none
  detail::RowMajorMatrix<T> work_;  // scatter workspace
};

}  // namespace seqnet
