#pragma once
/// \file
/// What SimpleRNN, LSTM and GRU share: their common options, checks, the time-major buffers, dropout masks,
/// input masks, the input projection and its backward, the recurrent matrix product and the output assembly.
///
/// Shapes (T steps, B batch, D input features, H units, k gates: 1 SimpleRNN, 4 LSTM, 3 GRU):
///   X: (T*B) x D (or (T*B) ids for one-hot input), W ("kernel"): D x kH, U ("recurrent_kernel"): H x kH,
///   G = X W + b: (T*B) x kH, rows t*B .. t*B+B-1 are step t (column j of a step block is contiguous).
///   G, the states, caches and gate gradients have padded_rows(...) rows allocated (resize_steps); rows past
///   the used ones are never read, and whole-matrix products take all_steps(M).
/// Processing order: step s = 0 .. T-1 reads input step t(s) = s, or T-1-s with go_backwards.
/// States in Mode::Train are kept indexed by INPUT step in S: (T+1)*B x H with one zero block, so that the
///   previous states of all steps are S shifted by B rows and dU = H_prev^T dG is one GEMM after the loop.
///   Forward order: state of step t at rows (t+1)*B, zero block at rows 0. go_backwards: state of step t
///   at rows t*B, zero block at rows T*B. Mode::Eval keeps two B x H state blocks and no per-step cache.
/// Dropout (Keras, implementation 2): in Mode::Train with rate p > 0, ONE mask per sequence, M_x: B x D for
///   the inputs and M_h: B x H for the recurrent state, entries 0 (probability p) or 1/(1-p), drawn from the
///   Rng passed to forward (M_x first, column by column, then M_h), reused at every step and by every gate.
///   x_t is replaced by x_t .* M_x and h_{t-1} by h_{t-1} .* M_h wherever it multiplies U.
/// Masks: a row whose mask byte is 0 carries the previous state (and LSTM cell) unchanged; its gate
///   gradients are zero and the state gradient passes straight through.
/// Fused embedding (set_fused_embedding): with an embedding table E (V x D) attached, forward also takes the
///   Ids batch that the Embedding would have read, and x_t = E[ids_t] is never built: G = (E W)[ids] + b is a
///   gather from P = E W (V x kH), like one-hot input with kernel P. Backward: dP = scatter-add of dG by id,
///   dW += E^T dP, dE += dP W^T. Exact in exact arithmetic; cheaper whenever V is well below T*B. When the
///   table has more than T*B / 2 rows, only the U distinct ids of the batch are read through it (ids are
///   replaced by their slots in the ascending list of distinct ids): P = E_u W (U x kH, E_u = E[distinct]),
///   G = P[slots] + b; backward dP = scatter-add of dG by slot (row-major), dW += E_u^T dP,
///   dE[distinct] += dP W^T. Not with input dropout in Mode::Train (the mask differs per sample), nor with
///   an Embedding mask. In a training step of a Sequential on several threads, the replicas of the layer
///   read the batch's distinct ids from one table instead (detail::SharedDistinct, share_distinct): the
///   model computes P and, after the replicas' backward, dW and dE, a share of the ids on each thread.
/// Output: return_sequences: (T*B) x H, row block s = state after processing step s (processing order, as
///   Keras; the input mask is passed on unchanged, as Keras does even with go_backwards); otherwise B x H, the
///   state after the last processed step.

#include "seqnet/core/activation.hpp"
#include "seqnet/detail/cols.hpp"
#include "seqnet/detail/projection.hpp"
#include "seqnet/detail/tiles.hpp"
#include "seqnet/layers/layer.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace seqnet {
namespace detail {

/// Applies a pointwise activation in place to a block (columns contiguous).
template <typename D>
inline void activate_block(Activation a, const Eigen::MatrixBase<D>& xc) {
  D& x = const_cast<D&>(xc.derived());
  switch (a) {
    case Activation::Linear:
      break;
    case Activation::Relu:
      x = x.array().max(typename D::Scalar(0)).matrix();
      break;
    case Activation::Sigmoid:
      x = x.array().logistic().matrix();
      break;
    case Activation::Tanh:
      x = x.array().tanh().matrix();
      break;
    case Activation::Softmax:
      throw InvalidArgument("softmax is not a pointwise activation");
  }
}

/// d .*= act'(y), the derivative of a pointwise activation written with its output y.
template <typename DD, typename DY>
inline void mul_activation_grad(Activation a, const Eigen::MatrixBase<DD>& dc, const Eigen::MatrixBase<DY>& y) {
  DD& d = const_cast<DD&>(dc.derived());
  using T = typename DD::Scalar;
  switch (a) {
    case Activation::Linear:
      break;
    case Activation::Relu:
      d = (y.array() > T(0)).select(d.array(), T(0)).matrix();
      break;
    case Activation::Sigmoid:
      d = (d.array() * y.array() * (T(1) - y.array())).matrix();
      break;
    case Activation::Tanh:
      d = (d.array() * (T(1) - y.array().square())).matrix();
      break;
    case Activation::Softmax:
      break;
  }
}

}  // namespace detail

/// Settings every recurrent layer has (each layer's own options struct holds them plus its extras).
struct RecurrentSettings {
  Index units = 0;
  bool return_sequences = false;
  bool go_backwards = false;
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  Activation activation = Activation::Tanh;
  Activation recurrent_activation = Activation::Sigmoid;
};

namespace detail {

/// Ids per chunk of the backward products over a batch's distinct ids (Recurrent::distinct_weight_grads): dP
/// of a chunk (128 KB for kH = 512 floats) stays in a core's L2 cache between the sum that writes it and the
/// two products that read it.
constexpr Index kDistinctChunk = 64;

/// The products over a training batch's distinct ids (fused embedding, distinct ids only; see the file
/// comment) that the N replicas of one recurrent layer share in a step on N threads (Sequential): the model
/// fills the table before the slices (Recurrent::begin_shared_batch on one replica, then
/// Recurrent::shared_forward_piece k of N on thread k: a 1/N share of the columns of Q = W^T E_u^T over the
/// batch's U distinct ids); each replica's forward gathers its gate blocks from Q and its backward scatters its
/// gate gradients into its own dPt[k]; the model finishes after the slices (Recurrent::shared_backward_piece
/// k of N on replica k: the sum of the dPt over its share of the columns, then its share of dW and dE, into
/// replica k's gradient array). Each thread thus computes 1/N of the products over the batch's distinct ids,
/// where a replica alone computes them over all its own slice's distinct ids (about 4,700 of the 7,200 of a
/// 64-sample `big_lstm` batch at 2 threads).
template <typename T>
struct SharedDistinct {
  bool active = false;                            // for the current step only (begin_shared_batch)
  std::vector<std::int32_t> ids, distinct, slot;  // the batch's ids (workspace); the distinct ids; id -> slot
  Matrix<T> Eu, EuT;                              // E[distinct] (cap x D) and its transpose (padded rows)
  Matrix<T> Wt;                                   // W^T (padded column stride)
  Matrix<T> Q;                                    // W^T E_u^T (kH x cap): column u is the gate row of slot u
  std::vector<Matrix<T>> dPt;                     // per replica: its sum of dG by slot, transposed (kH x cap)
  /// Per thread, for a chunk of kDistinctChunk ids of its share: the replicas' dPt there, their sum
  /// transposed (dP, kDistinctChunk x kH, padded) and dP W^T (dEu, kDistinctChunk x D).
  std::vector<std::vector<Cols<const T>>> parts;
  std::vector<Matrix<T>> dP, dEu;
};

}  // namespace detail

template <typename T>
class Recurrent;

/// A layer that can read the ids of the Embedding in front of it through that Embedding's table (the fused
/// embedding of the file comment): SimpleRNN, LSTM, GRU and Bidirectional. Sequential attaches each Embedding
/// without mask_zero to such a layer right after it, and skips the Embedding for a batch for which
/// fuses_embedding says so.
template <typename T>
class EmbeddingReader {
 public:
  virtual ~EmbeddingReader() = default;
  /// Attaches (or, with nullptr, detaches) the Embedding in front.
  virtual void set_fused_embedding(Layer<T>* embedding) = 0;
  /// The Embedding attached (nullptr if none).
  virtual const Layer<T>* fused_embedding() const = 0;
  /// Whether the ids batch `x` is read through the table in a forward in `mode`.
  virtual bool fuses_embedding(Mode mode, const SeqBatch<T>& x) const = 0;
  /// Appends the recurrent layers that read the table (this layer, or Bidirectional's two directions), their
  /// parameters bound to the current storage.
  virtual void readers(std::vector<Recurrent<T>*>& out) = 0;
};

/// Base of SimpleRNN, LSTM and GRU: see the file comment for the layout it manages.
template <typename T>
class Recurrent : public Layer<T>, public EmbeddingReader<T> {
 public:
  Index units() const { return s_.units; }
  bool return_sequences() const { return s_.return_sequences; }
  bool go_backwards() const { return s_.go_backwards; }
  double dropout() const { return s_.dropout; }
  double recurrent_dropout() const { return s_.recurrent_dropout; }
  Activation activation() const { return s_.activation; }
  Activation recurrent_activation() const { return s_.recurrent_activation; }

  /// Largest table (rows x kH values) that an evaluation forward gathers from step by step column by column
  /// (see project; a transposed table is always gathered step by step): half of a 1 MiB L2, so the table
  /// stays in cache across steps.
  static constexpr Index kStepwiseTableBytes = 512 * 1024;
  /// The gathers read a transposed copy of the table up to this size, built per forward (see project);
  /// beyond it the copy is a pass through memory that costs more than the column gather it replaces
  /// (`big_lstm` inference, whose fused table is 20 MB: 13% slower with the copy).
  static constexpr Index kTransposedTableBytes = 1024 * 1024;

  /// Attaches (or, with nullptr, detaches) the Embedding layer in front of this one, whose only parameter is the
  /// table E (V x D, D = this layer's input features): forward then also accepts the Shape::ids(steps) input of
  /// that Embedding and reads x = E[ids] through E W, adding dL/dE into the Embedding's gradient (see the file
  /// comment). Sequential uses it for Embedding -> recurrent pairs; the table stays the Embedding's.
  void set_fused_embedding(Layer<T>* embedding) override {
    if (embedding && (embedding->param_specs().size() != 1 || embedding->param(0).cols() != D_))
      throw ShapeError(this->where() + "fused embedding '" + embedding->name() + "' does not fit the layer's " +
                       std::to_string(D_) + " input features");
    emb_ = embedding;
  }
  /// The Embedding attached by set_fused_embedding (nullptr if none).
  const Layer<T>* fused_embedding() const override { return emb_; }
  /// Whether a fused embedding would be used for a forward of the ids batch `x` in `mode`: attached, no
  /// input dropout in training, and fewer rows through W than x = E[ids] has: the whole table when it has
  /// at most half as many rows as the batch (`2 V <= T*B`), otherwise the batch's distinct ids when there
  /// are at most 3/4 as many as rows (`4 U <= 3 T*B`; counted here, one pass over the ids), the layer has
  /// at least kDistinctMinFeatures input features and their table (U x kH) at most kDistinctTableBytes.
  /// False for a batch with an invalid id, which the Embedding then reports. In training, true while the
  /// model has a shared table active for the batch (begin_shared_batch, which decides as above for the
  /// whole batch).
  bool fuses_embedding(Mode mode, const SeqBatch<T>& x) const override {
    if (!emb_ || (mode == Mode::Train && s_.dropout > 0.0) || x.shape.encoding != Encoding::Ids) return false;
    if (mode == Mode::Train && shared_ && shared_->active) return true;  // decided for the whole batch
    const Index rows = x.values.rows(), vocab = emb_->param(0).rows();
    if (2 * vocab <= rows) return true;
    if (D_ < kDistinctMinFeatures) return false;
    const Index distinct = detail::count_distinct_ids(x, vocab);
    return distinct >= 0 && distinct_pays(distinct, rows);
  }
  /// Fewest input features for which fuses_embedding reads a batch's distinct ids through the table: per
  /// row, the path saves 3 D kH multiply-adds and adds the scatter of kH gate gradients.
  static constexpr Index kDistinctMinFeatures = 32;
  /// Largest table of distinct ids (U x kH values) that fuses_embedding reads through. Tables beyond half of
  /// a 32 MiB L3 send the per-step gathers and the scatter to memory, and still train faster than the dense
  /// products (`big_bilstm`: two tables of 30 MB at 1 thread, of 19 MB per 32-sample slice at 2); the bound
  /// caps the memory the path adds (the table, and its gradient in the same buffer).
  static constexpr Index kDistinctTableBytes = 64 * 1024 * 1024;

  void readers(std::vector<Recurrent<T>*>& out) override { out.push_back(this); }

  /// Whether the last forward (in training) gathered from a table shared with the model's other replicas
  /// (a step on several threads; see detail::SharedDistinct).
  bool read_shared_table() const { return shared_step_; }

  /// Attaches (or, with nullptr, detaches) the table that this layer, as replica `replica`, shares with the
  /// other replicas of the model in a training step on several threads (detail::SharedDistinct).
  void share_distinct(detail::SharedDistinct<T>* table, int replica) {
    shared_ = table;
    replica_ = replica;
  }
  /// Whether a training batch may be read through a shared table (begin_shared_batch): a fused embedding of
  /// at least kDistinctMinFeatures features, no input dropout.
  bool may_share() const { return shared_ && emb_ && s_.dropout == 0.0 && D_ >= kDistinctMinFeatures; }
  /// Decides, for a training batch of `b` samples of `steps` ids each (sample i at x + idx[i] * steps) split
  /// into `slices` slices of at most `max_slice` samples, whether the replicas read its distinct ids through
  /// the shared table: as fuses_embedding decides for the whole batch on one thread, and only when every
  /// slice would read distinct ids too (2 V > steps * max_slice). Sizes the table's buffers; the batch's
  /// products are then computed by shared_forward_piece. False (and nothing shared) for a batch with an
  /// invalid id, which the Embedding then reports.
  bool begin_shared_batch(const T* x, const Index* idx, Index b, Index steps, Index max_slice, int slices) {
    detail::SharedDistinct<T>& s = *shared_;
    s.active = false;
    if (!may_share()) return false;
    const Index V = emb_->param(0).rows(), rows = steps * b, kH = this->param(0).cols();
    if (2 * V <= steps * max_slice) return false;
    s.ids.resize(static_cast<std::size_t>(rows));
    for (Index i = 0; i < b; ++i) {
      const T* v = x + idx[i] * steps;
      for (Index t = 0; t < steps; ++t) {
        if (!detail::is_id(v[t], static_cast<T>(V))) return false;
        s.ids[static_cast<std::size_t>(i * steps + t)] = static_cast<std::int32_t>(v[t]);
      }
    }
    detail::to_distinct_slots(s.ids.data(), rows, V, s.distinct, s.slot);  // s.slot: id -> slot
    const Index U = static_cast<Index>(s.distinct.size());
    if (!distinct_pays(U, rows)) return false;
    const Index cap = distinct_capacity(s.Q.cols(), U, rows);
    s.Eu.resize(cap, D_);
    s.EuT.resize(detail::padded_rows<T>(D_), cap);
    s.Q.resize(kH, cap);
    s.dPt.resize(static_cast<std::size_t>(std::max<int>(slices, static_cast<int>(s.dPt.size()))));
    for (auto& d : s.dPt) d.resize(kH, cap);
    s.parts.resize(s.dPt.size());
    s.dP.resize(s.dPt.size());
    s.dEu.resize(s.dPt.size());
    for (std::size_t k = 0; k < s.dPt.size(); ++k) {
      s.parts[k].resize(s.dPt.size());
      s.dP[k].resize(detail::padded_rows<T>(detail::kDistinctChunk), kH);
      s.dEu[k].resize(detail::kDistinctChunk, D_);
    }
    transposed_kernel(s.Wt);
    s.active = true;
    return true;
  }
  /// Part k of n of the shared table's forward products (after begin_shared_batch, on thread k): for its
  /// share of the distinct ids, E_u^T = E[distinct]^T and Q = W^T E_u^T.
  void shared_forward_piece(int k, int n) {
    detail::SharedDistinct<T>& s = *shared_;
    const auto [lo, m] = shared_piece(k, n);
    if (m == 0) return;
    gather_distinct_rows(s.distinct.data(), lo, m, s.Eu);
    distinct_table(lo, m, s.Eu, s.EuT, s.Wt, s.Q);
  }
  /// Part k of n of the shared table's backward products, on replica k after all `n` replicas' backward:
  /// for its share of the distinct ids, dW += E_u^T dP and dE[distinct] += dP W^T with dP the sum of the
  /// replicas' dPt (distinct_weight_grads), into this replica's gradients.
  void shared_backward_piece(int k, int n) {
    detail::SharedDistinct<T>& s = *shared_;
    const auto [lo, m] = shared_piece(k, n);
    const auto kk = static_cast<std::size_t>(k);
    eigen_assert(static_cast<std::size_t>(n) <= s.dPt.size() && static_cast<std::size_t>(n) <= s.parts[kk].size());
    distinct_weight_grads(s.dPt.data(), n, lo, m, s.distinct.data(), s.EuT, s.Wt, s.dP[kk], s.dEu[kk],
                          s.parts[kk].data());
  }

  /// A new, unbuilt layer of the same type and settings that reads the sequence in the other direction
  /// (go_backwards flipped): the backward half of Bidirectional.
  std::unique_ptr<Layer<T>> clone_reversed() const {
    std::unique_ptr<Layer<T>> p = this->clone_unbuilt();
    auto* r = dynamic_cast<Recurrent<T>*>(p.get());
    if (!r) throw StateError(this->where() + "clone_unbuilt() did not return a recurrent layer");
    r->s_.go_backwards = !s_.go_backwards;
    return p;
  }

 protected:
  Recurrent(const std::string& type, RecurrentSettings s) : s_(s) {
    if (s.units <= 0) throw InvalidArgument(type + ": units must be positive, got " + std::to_string(s.units));
    if (!(s.dropout >= 0.0 && s.dropout < 1.0))
      throw InvalidArgument(type + ": dropout must be in [0, 1), got " + std::to_string(s.dropout));
    if (!(s.recurrent_dropout >= 0.0 && s.recurrent_dropout < 1.0))
      throw InvalidArgument(type + ": recurrent_dropout must be in [0, 1), got " + std::to_string(s.recurrent_dropout));
    if (s.activation == Activation::Softmax || s.recurrent_activation == Activation::Softmax)
      throw InvalidArgument(type + ": softmax cannot be a recurrent activation");
  }

  const RecurrentSettings& settings() const { return s_; }

  bool accepts_input(const Shape& in) const override {
    return emb_ && in.encoding == Encoding::Ids && in.steps == this->input_shape().steps;
  }
  /// Whether the batch being processed is ids read through the fused embedding.
  static bool is_fused_input(const SeqBatch<T>& x) { return x.shape.encoding == Encoding::Ids; }

  /// Writes the common settings into c (with or without recurrent_activation, which SimpleRNN lacks).
  void write_common_config(Config& c, bool with_recurrent_activation) const {
    c.set("units", static_cast<long long>(s_.units));
    c.set("activation", to_string(s_.activation));
    if (with_recurrent_activation) c.set("recurrent_activation", to_string(s_.recurrent_activation));
    c.set("return_sequences", s_.return_sequences);
    c.set("go_backwards", s_.go_backwards);
    c.set("dropout", s_.dropout);
    c.set("recurrent_dropout", s_.recurrent_dropout);
  }
  static RecurrentSettings read_common_config(const Config& c, bool with_recurrent_activation) {
    RecurrentSettings s;
    s.units = static_cast<Index>(c.get_int("units"));
    s.activation = activation_from_string(c.get_string("activation"));
    if (with_recurrent_activation)
      s.recurrent_activation = activation_from_string(c.get_string("recurrent_activation"));
    s.return_sequences = c.get_bool("return_sequences");
    s.go_backwards = c.get_bool("go_backwards");
    s.dropout = c.get_double("dropout");
    s.recurrent_dropout = c.get_double("recurrent_dropout");
    return s;
  }

  /// Checks the input shape; returns the output shape.
  Shape build_common(const Shape& in) {
    if (in.encoding == Encoding::Ids)
      throw ShapeError(this->where() + "cannot take integer ids; put an Embedding first or use one-hot input");
    if (!in.is_sequence()) throw ShapeError(this->where() + "needs a sequence input (steps > 0), got " + to_string(in));
    D_ = in.features;
    return s_.return_sequences ? Shape{in.steps, s_.units, Encoding::Dense} : Shape::vector(s_.units);
  }

  /// Everything before the time loop: sizes, mask values, dropout masks, ids check, state buffers.
  /// `state_buffers` lists the buffers laid out as S (states, LSTM cells); `step_caches` the per-step
  /// caches ((T*B) x H in Train, B x H in Eval).
  void begin_forward(const SeqBatch<T>& x, Mode mode, Rng* rng, std::initializer_list<Matrix<T>*> state_buffers,
                     std::initializer_list<Matrix<T>*> step_caches) {
    const Index H = s_.units;
    T_ = x.steps();
    B_ = x.batch;
    train_ = mode == Mode::Train;
    if (x.shape.encoding == Encoding::OneHot) detail::read_ids(x, x.shape.features, this->where(), ids_);
    if (is_fused_input(x)) {
      if (!emb_) throw ShapeError(this->where() + "got ids but has no fused embedding table");
      if (train_ && s_.dropout > 0.0)
        throw StateError(this->where() + "a fused embedding cannot be used with input dropout in training");
      detail::read_ids(x, emb_->param(0).rows(), this->where(), ids_);
      shared_step_ = train_ && shared_ && shared_->active;
      if (shared_step_) {  // ids_ become slots in the batch's list of distinct ids (columns of the shared Q)
        for (std::int32_t& id : ids_) id = shared_->slot[static_cast<std::size_t>(id)];
      } else if (distinct_only()) {  // ids_ become slots in the list of distinct ids (rows of P = E[distinct] W)
        detail::to_distinct_slots(ids_.data(), T_ * B_, emb_->param(0).rows(), distinct_, slot_);
      }
    } else {
      shared_step_ = false;
    }
    masked_ = x.has_mask();
    if (masked_) {
      m_.resize(T_ * B_);
      for (Index r = 0; r < T_ * B_; ++r) m_[r] = x.mask[static_cast<std::size_t>(r)] ? T(1) : T(0);
    }
    for (Matrix<T>* S : state_buffers) {
      resize_steps(*S, train_ ? (T_ + 1) * B_ : 2 * B_, H);
      S->middleRows(train_ ? zero_row() : 0, B_).setZero();
    }
    for (Matrix<T>* c : step_caches) resize_steps(*c, train_ ? T_ * B_ : B_, H);
    drop_x_ = train_ && s_.dropout > 0.0;
    drop_h_ = train_ && s_.recurrent_dropout > 0.0;
    if (drop_x_ || drop_h_) {
      Rng& r = this->need_rng(rng);
      if (drop_x_) draw_mask(Mx_, D_, s_.dropout, r);
      if (drop_h_) draw_mask(Mh_, H, s_.recurrent_dropout, r);
    }
    if (drop_h_) hd_.resize(B_, H);
  }

  /// Prepares G = X' W + b_row, X' = X (.* M_x when input dropout is on), or a gather of table rows for ids.
  /// G is sized by resize_steps: the step blocks are read column by column inside the loop.
  /// Ids gathered from a transposed table (by_table_, see below) are gathered step by step, as step_gates
  /// reaches each block, so the step reads its rows from L1; so is a dense input, always: each block
  /// G_t = X'_t W + b is computed when the loop reaches it and written once, by the step, where the product of
  /// all steps at once wrote G before the loop and the loop read it back (G is 6,400 x 32 floats for a batch
  /// of 64 x 100 steps into an 8-unit LSTM: more than the L2 cache holds with the layer's other buffers).
  /// In Mode::Eval nothing is kept for a backward, so G can hold one step only (stepwise_), filled by
  /// step_gates at each step: the (T*B) x kH matrix is then never written to memory and read back (3.3 MB per
  /// layer for 100 steps at batch 256, H = 8, which cost more than the products). Not when ids are gathered
  /// column by column from a table larger than kStepwiseTableBytes: the gather of all steps at once walks the
  /// table a few columns at a time, which keeps them in cache, while one step's rows touch every column of it
  /// (`big_lstm` inference reads a 20 MB table).
  template <typename DW, typename DB>
  void project(const SeqBatch<T>& x, const Eigen::MatrixBase<DW>& W, const Eigen::MatrixBase<DB>& b, Matrix<T>& G) {
    const bool fused = is_fused_input(x), onehot = x.shape.encoding == Encoding::OneHot, dense = !fused && !onehot;
    const Index rows = T_ * B_;
    if (shared_step_) {  // the model has computed Q for the batch (shared_forward_piece): gathered step by step
      by_table_ = true;
      stepwise_ = false;
      resize_steps(G, rows, W.cols());
      return;
    }
    // The table the ids are gathered from: W (one-hot input), P = E W (fused), or P = E_u W for the U
    // distinct ids of the batch (fused, distinct_only(); E_u = E[distinct]). The buffers of the distinct ids
    // have `cap` rows (distinct_capacity), of which a batch uses its first U.
    const Index U = static_cast<Index>(distinct_.size());
    const bool distinct = fused && distinct_only();
    const Index cap = distinct ? distinct_capacity(Eu_.rows(), U, rows) : 0;
    Index table_rows = onehot ? W.rows() : 0;
    if (distinct) {
      Eu_.resize(cap, D_);
      gather_distinct_rows(distinct_.data(), 0, U, Eu_);  // E_u = E[distinct]
      table_rows = U;
    } else if (fused) {
      P_.resize(emb_->param(0).rows(), W.cols());
      detail::rec_mul_set(emb_->param(0), W, P_);  // P = E W
      table_rows = P_.rows();
    }
    // The gathers read the table transposed (Q = P^T or W^T, one table row per column) when it is small
    // enough (kTransposedTableBytes) and the batch reads at least as many rows as the table has (always
    // so for the fused table: 2 V <= T*B); in training, the table of distinct ids at any size: each step's
    // block, gathered as the loop reaches it, is then read from cache, where a gather of all steps from P
    // writes all of G to memory before the loop and the loop reads it back.
    const Index table_bytes = table_rows * W.cols() * static_cast<Index>(sizeof(T));
    by_table_ =
        (fused || onehot) && rows >= table_rows && (table_bytes <= kTransposedTableBytes || (distinct && train_));
    if (by_table_ && distinct) {  // Q = P^T = W^T E_u^T, straight from a copy of W^T (D x kH values)
      // E_u^T (D x U, one id's D values per column) is what the kernel reads: a tile's columns of it are then
      // contiguous over k, where E_u's are a whole column of cap values apart at every k; the backward pass
      // reads it too (dW += E_u^T dP). Both W^T and E_u^T, left operands of the kernel, have padded column
      // strides (detail::padded_rows).
      transposed_kernel(Wt_);
      EuT_.resize(detail::padded_rows<T>(D_), cap);
      Q_.resize(W.cols(), cap);
      distinct_table(0, U, Eu_, EuT_, Wt_, Q_);
    } else if (by_table_) {
      Q_.resize(W.cols(), table_rows);
      if (fused)
        detail::transpose_into(detail::cols_of(P_), P_.rows(), P_.cols(), detail::mutable_cols_of(Q_));
      else
        detail::transpose_into(detail::cols_of(W), W.rows(), W.cols(), detail::mutable_cols_of(Q_));
    } else if (distinct) {
      P_.resize(cap, W.cols());
      detail::rec_mul_set(Eu_.topRows(U), W, P_.topRows(U));  // P = E_u W
    }
    stepwise_ = !train_ && (by_table_ || table_bytes <= kStepwiseTableBytes);
    resize_steps(G, stepwise_ ? B_ : rows, W.cols());
    if (onehot && drop_x_) {
      // A dropped one-hot row is m(b, id) e_id, so its product with W is that scale times row id of W.
      xs_.resize(rows);
      for (Index r = 0; r < rows; ++r) xs_[r] = Mx_(r % B_, ids_[static_cast<std::size_t>(r)]);
    }
    if (dense && drop_x_) resize_steps(Xd_, rows, D_);  // X' = X .* M_x, filled step by step (backward reads it)
    if (dense && !drop_x_) resize_steps(Xs_, B_, D_);   // X_t, copied step by step
    if (dense) Wp_.pack(W);                             // for X_t W at every step
    if (stepwise_ || by_table_ || dense) return;        // filled by step_gates
    // Left: ids read through a table that is not transposed, all steps at once (a table larger than
    // kTransposedTableBytes, or a batch of fewer rows than the table has; in evaluation only a table larger
    // than kStepwiseTableBytes).
    if (fused)
      detail::gather_rows(ids_.data(), rows, P_, b, G);  // G = P[ids] + b
    else
      detail::gather_rows(ids_.data(), rows, W, b, G, drop_x_ ? xs_.data() : nullptr);  // G = W[ids] (.* m) + b
  }

  /// The gate block of input step t: rows t*B .. t*B+B of G (the first B rows when project chose one step's
  /// buffer, in evaluation), filled now when project left it to the loop: G_t = X'_t W + b.
  template <typename DW, typename DB>
  auto step_gates(const SeqBatch<T>& x, const Eigen::MatrixBase<DW>& W, const Eigen::MatrixBase<DB>& b, Matrix<T>& G,
                  Index t) {
    auto Gt = G.middleRows(stepwise_ ? 0 : t * B_, B_);
    if (by_table_)  // G_t = P[ids_t] + b, or W[ids_t] (.* m) + b (one-hot input dropout: training only)
      detail::gather_table_rows(ids_.data() + t * B_, B_, detail::cols_of(table()), table().rows(), b,
                                detail::mutable_cols_of(Gt), drop_x_ ? xs_.data() + t * B_ : nullptr);
    else if (x.shape.encoding == Encoding::Dense && drop_x_) {  // X'_t = X_t .* M_x; G_t = X'_t W + b
      auto Xt = Xd_.middleRows(t * B_, B_);
      Xt = x.values.middleRows(t * B_, B_).cwiseProduct(Mx_);
      detail::rec_mul_set(Xt, Wp_, Gt, b.derived().data(), b.derived().outerStride());
    } else if (x.shape.encoding == Encoding::Dense) {  // G_t = X_t W + b, X_t copied first
      // The input's column stride is T*B values, a multiple of 4 KiB for many batch shapes (25,600 floats for
      // big_bilstm): the D columns of a row block of X_t then fall in the same L1 set and evict each other
      // while the kernel reads them once per column tile. Copied into a B x D block they spread over all
      // sets (`seqnet_bench --kernels` on a Zen 3 core, 2026-12-07: X_t W + b over big_bilstm's 400 steps
      // took 51 to 63 ms from the copy, 65 to 71 in place); the block's column stride is padded too
      // (resize_steps), B = 64 floats being 256 B.
      Xs_.topRows(B_) = x.values.middleRows(t * B_, B_);
      detail::rec_mul_set(Xs_.topRows(B_), Wp_, Gt, b.derived().data(), b.derived().outerStride());
    } else if (stepwise_ && is_fused_input(x))
      detail::gather_rows(ids_.data() + t * B_, B_, P_, b, G);  // G_t = P[ids_t] + b
    else if (stepwise_)
      detail::gather_rows(ids_.data() + t * B_, B_, W, b, G);  // G_t = W[ids_t] + b (one-hot, evaluation)
    return Gt;
  }

  /// Sizes a matrix that the time loop reads step block by step block (states, per-step caches, gate
  /// gradients) to `rows` x `cols` with detail::padded_rows(rows) rows allocated: its column stride is an
  /// odd number of cache lines, so the columns of one step block fall in different L1 sets wherever the
  /// allocator put the matrix. Code that uses all steps at once takes all_steps(M).
  static void resize_steps(Matrix<T>& M, Index rows, Index cols) { M.resize(detail::padded_rows<T>(rows), cols); }
  /// The T*B rows of a matrix sized by resize_steps(M, T*B, cols).
  auto all_steps(const Matrix<T>& M) const { return M.topRows(T_ * B_); }

  /// Whether the backward loop scatters each step's gate gradients into dP as it computes them (fused input
  /// of distinct ids): begin_step_scatter before the loop, scatter_step at each step, then project_backward
  /// with `scattered`. The step's block is still in cache then; a scatter of all steps after the loop reads
  /// dG back from memory, 16 rows of each of the kH columns at a time (26 MB for `big_lstm`).
  bool scatters_by_step(const SeqBatch<T>& x) const { return is_fused_input(x) && distinct_only(); }
  /// Zeroes the sums of dP (U rows of kH, row-major in the memory of Q_, which the forward's gathers have
  /// finished with).
  void begin_step_scatter(Index kH) {
    const Index U = distinct_count();
    Matrix<T>& dPt = scatter_target();
    eigen_assert(by_table_ && dPt.rows() == kH && dPt.cols() >= U);
    std::fill(dPt.data(), dPt.data() + U * kH, T(0));
  }
  /// dP(slot, :) += dG_t(b, :) for the B rows of input step t.
  template <typename DG>
  void scatter_step(Index t, const Eigen::MatrixBase<DG>& dGt) {
    Matrix<T>& dPt = scatter_target();
    detail::scatter_add_rows(ids_.data() + t * B_, B_, dGt, dPt.data(), dPt.rows());
  }

  /// After the loop: dW += X'^T dG, and (when input_grad()) dX = (dG W^T) .* M_x. dG: (T*B) x kH.
  /// `scattered`: the loop has formed dP already (scatters_by_step).
  template <typename DG, typename DW, typename DWg>
  void project_backward(const SeqBatch<T>& x, const Eigen::MatrixBase<DG>& dG, const Eigen::MatrixBase<DW>& W,
                        const Eigen::MatrixBase<DWg>& dWc, SeqBatch<T>& dx, bool scattered = false) {
    DWg& dW = const_cast<DWg&>(dWc.derived());
    if (shared_step_) {  // dP^T into this replica's part of the shared table; the model finishes dW and dE
      if (!scattered) detail::scatter_rows_into(ids_, dG, distinct_count(), scatter_target().data(), dG.cols());
      return;
    }
    if (is_fused_input(x) && distinct_only()) {
      // dP = scatter of dG by slot, row-major, into the memory of Q (kH x cap, which the forward's gathers
      // have finished with): Q holds dP^T, one id's kH values per column, which both products read as their
      // contiguous operand.
      const Index U = static_cast<Index>(distinct_.size()), kH = dG.cols();
      eigen_assert(by_table_ && Q_.rows() == kH && Q_.cols() >= U && EuT_.rows() >= D_ && EuT_.cols() >= U);
      if (!scattered) detail::scatter_rows_into(ids_, dG, U, Q_.data(), kH);
      dPc_.resize(detail::padded_rows<T>(detail::kDistinctChunk), kH);
      dEuc_.resize(detail::kDistinctChunk, D_);
      detail::Cols<const T> part{};
      distinct_weight_grads(&Q_, 1, 0, U, distinct_.data(), EuT_, Wt_, dPc_, dEuc_, &part);  // dW, dE[distinct]
      return;
    }
    if (is_fused_input(x)) {
      const Index V = emb_->param(0).rows(), kH = dG.cols();
      work_.resize(V, kH);
      detail::scatter_rows_into(ids_, dG, V, work_.data(), kH);  // dP = scatter of dG by id, row-major
      dP_ = work_;                                               // and column-major for the kernels
      detail::tn_mul_acc(emb_->param(0), dP_, dW);               // dW += E^T dP
      detail::rec_mul_t_acc(dP_, W, emb_->grad(0));              // dE += dP W^T
      return;
    }
    if (!drop_x_) {
      detail::project_input_backward(x, ids_, dG, dW, work_);  // dW += X^T dG
    } else if (x.shape.encoding == Encoding::OneHot) {
      detail::scatter_rows(ids_, dG, dW, work_, xs_.data());  // dW += X'^T dG
    } else {
      detail::tn_mul_acc(all_steps(Xd_), dG, dW);  // dW += X'^T dG
    }
    if (this->input_grad()) {
      dx.values.resize(dG.rows(), W.rows());
      Wp_.pack_transposed(W);                   // the forward's packed W is done with
      detail::rec_mul_set(dG, Wp_, dx.values);  // dX' = dG W^T
      if (drop_x_)
        for (Index t = 0; t < T_; ++t) dx.values.middleRows(t * B_, B_).array() *= Mx_.array();  // dX = dX' .* M_x
    }
  }

  /// W^T into Wt (kH x D, padded rows): the left operand of Q = W^T E_u^T and the right one of dE_u = dP W^T.
  void transposed_kernel(Matrix<T>& Wt) const {
    const Index kH = this->param(0).cols();
    Wt.resize(detail::padded_rows<T>(kH), D_);
    detail::transpose_into(detail::cols_of(this->param(0)), D_, kH, detail::mutable_cols_of(Wt));
  }
  /// Rows lo .. lo + m of Eu := the Embedding's rows distinct[lo .. lo + m) (E_u = E[distinct]).
  void gather_distinct_rows(const std::int32_t* distinct, Index lo, Index m, Matrix<T>& Eu) const {
    const Eigen::Map<const Eigen::Array<std::int32_t, Eigen::Dynamic, 1>> ids(distinct + lo, m);
    Eu.middleRows(lo, m) = emb_->param(0)(ids, Eigen::all);
  }
  /// The forward products over the distinct ids lo .. lo + m of a batch read through a table of distinct ids,
  /// from rows lo .. of Eu (gather_distinct_rows): the same columns of EuT = E_u^T (padded rows) and of
  /// Q = W^T E_u^T (Wt: transposed_kernel).
  void distinct_table(Index lo, Index m, const Matrix<T>& Eu, Matrix<T>& EuT, const Matrix<T>& Wt, Matrix<T>& Q) const {
    const Index kH = this->param(0).cols();
    eigen_assert(Eu.rows() >= lo + m && EuT.rows() >= D_ && EuT.cols() >= lo + m && Q.rows() == kH &&
                 Q.cols() >= lo + m);
    detail::transpose_into(detail::cols_of(Eu.middleRows(lo, m)), m, D_,
                           detail::mutable_cols_of(EuT.middleCols(lo, m)));
    detail::rec_mul_set(Wt.topRows(kH), EuT.block(0, lo, D_, m), Q.middleCols(lo, m));
  }

  /// The backward products over the distinct ids lo .. lo + m of a batch read through a table of distinct
  /// ids (`distinct`: the ids, ascending): dW += E_u^T dP into this layer's kernel gradient and
  /// dE[distinct] += dP W^T into the Embedding's, where dP^T (kH x U, one id's kH values per column) is the
  /// sum of the n matrices dpt[0 .. n) (kH rows each: one replica's dPt each in a step on n threads; Q_
  /// alone on one thread). A chunk of kDistinctChunk ids at a time: the chunk's dP^T summed and transposed into `dP`
  /// (kDistinctChunk x kH, padded rows), which both products then read contiguously over k while it stays in
  /// L2, and dP W^T into `dEu` (kDistinctChunk x D), added to the ids' rows of dE. EuT: E_u^T (D x U, padded
  /// rows); Wt: W^T (kH x D, padded rows); `parts`: n entries of scratch.
  void distinct_weight_grads(const Matrix<T>* dpt, int n, Index lo, Index m, const std::int32_t* distinct,
                             const Matrix<T>& EuT, const Matrix<T>& Wt, Matrix<T>& dP, Matrix<T>& dEu,
                             detail::Cols<const T>* parts) {
    const Index kH = this->param(0).cols();
    eigen_assert(std::all_of(dpt, dpt + n, [&](const Matrix<T>& d) { return d.rows() == kH && d.cols() >= lo + m; }));
    eigen_assert(dP.rows() >= detail::kDistinctChunk && dP.cols() == kH && dEu.rows() >= detail::kDistinctChunk &&
                 dEu.cols() == D_ && EuT.rows() >= D_ && Wt.rows() >= kH && Wt.cols() == D_);
    auto dW = this->grad(0);
    auto dE = emb_->grad(0);
    for (Index c0 = lo; c0 < lo + m; c0 += detail::kDistinctChunk) {
      const Index c = std::min(detail::kDistinctChunk, lo + m - c0);
      for (int j = 0; j < n; ++j) parts[j] = {dpt[j].data() + c0 * kH, kH};
      const auto dPc = dP.topRows(c);
      detail::transpose_sum_into(parts, n, kH, c, detail::mutable_cols_of(dPc));
      detail::small_gemm(D_, kH, c, EuT.data() + c0 * EuT.rows(), EuT.rows(), dPc.data(), Index(1), dPc.outerStride(),
                         dW.data(), dW.outerStride(), true);  // dW += E_u^T dP
      const auto dEc = dEu.topRows(c);
      detail::rec_mul_set(dPc, Wt.topRows(kH), dEc);  // dE_u = dP W^T
      for (Index d = 0; d < D_; ++d)
        for (Index u = 0; u < c; ++u) dE(distinct[c0 + u], d) += dEc(u, d);
    }
  }

  /// dU(:, cols) += H'_prev^T dR(:, cols) over all steps: H'_prev = S shifted by B rows (.* M_h).
  template <typename DR, typename DU>
  void recurrent_weight_grad(const Matrix<T>& S, const Eigen::MatrixBase<DR>& dR, const Eigen::MatrixBase<DU>& dUc) {
    DU& dU = const_cast<DU&>(dUc.derived());
    const Index rows = T_ * B_;
    const auto Hprev = S.middleRows(s_.go_backwards ? B_ : 0, rows);
    if (!drop_h_) {
      detail::tn_mul_acc(Hprev, dR, dU);  // dU += H_prev^T dR
    } else {
      Hd_.resize(rows, s_.units);
      for (Index t = 0; t < T_; ++t) Hd_.middleRows(t * B_, B_) = Hprev.middleRows(t * B_, B_).cwiseProduct(Mh_);
      detail::tn_mul_acc(Hd_, dR, dU);  // dU += (H_prev .* M_h)^T dR
    }
  }

  /// Whether a fused embedding reads only the batch's distinct ids (ids_ then holds slots): a table of more
  /// than T*B / 2 rows. Only with fused input.
  bool distinct_only() const { return 2 * emb_->param(0).rows() > T_ * B_; }

  /// Whether reading a batch of `rows` ids at its `distinct` distinct ids pays (fuses_embedding): at most 3/4
  /// as many as rows, and a table (distinct x kH) of at most kDistinctTableBytes.
  bool distinct_pays(Index distinct, Index rows) const {
    const Index table_bytes = distinct * this->param(0).cols() * static_cast<Index>(sizeof(T));
    return 4 * distinct <= 3 * rows && table_bytes <= kDistinctTableBytes;
  }
  /// Rows for the buffers of a table of U distinct ids of a batch of `rows` ids, which now have `have`: as
  /// they are when that is enough, else an eighth more than U (at most min(V, rows)), so that the next
  /// batches, whose counts differ little, reallocate nothing.
  Index distinct_capacity(Index have, Index U, Index rows) const {
    return have >= U ? have : std::min(U + U / 8, std::min(rows, emb_->param(0).rows()));
  }
  /// The table the gathers read (shared in a multi-thread step, see detail::SharedDistinct).
  const Matrix<T>& table() const { return shared_step_ ? shared_->Q : Q_; }
  /// Where the backward sums dG by slot, transposed: this replica's dPt of the shared table, or Q_.
  Matrix<T>& scatter_target() { return shared_step_ ? shared_->dPt[static_cast<std::size_t>(replica_)] : Q_; }
  /// The number of distinct ids of the batch (fused input, distinct ids only).
  Index distinct_count() const {
    return static_cast<Index>(shared_step_ ? shared_->distinct.size() : distinct_.size());
  }
  /// First column and count of part k of n of the shared table's U distinct ids (multiples of 16 columns).
  std::pair<Index, Index> shared_piece(int k, int n) const {
    const Index U = static_cast<Index>(shared_->distinct.size());
    const auto edge = [&](int j) { return j >= n ? U : std::min(U, U * j / n / 16 * 16); };
    return {edge(k), edge(k + 1) - edge(k)};
  }

  /// Input step read at processing step s.
  Index step_of(Index s) const { return s_.go_backwards ? T_ - 1 - s : s; }
  /// First row of the zero (initial) state block of S in Mode::Train.
  Index zero_row() const { return s_.go_backwards ? T_ * B_ : 0; }
  /// Rows of S holding the state after processing step s (input step t) and the one before.
  Index cur_row(Index s, Index t) const { return train_ ? (s_.go_backwards ? t : t + 1) * B_ : ((s + 1) & 1) * B_; }
  Index prev_row(Index s, Index t) const { return train_ ? (s_.go_backwards ? t + 1 : t) * B_ : (s & 1) * B_; }
  /// Row of a per-step cache for input step t.
  Index cache_row(Index t) const { return train_ ? t * B_ : 0; }

  /// The previous state as it enters the recurrent product: h_prev, or h_prev .* M_h (copied into hd_).
  const Matrix<T>& dropped_prev(const Matrix<T>& S, Index prow) {
    hd_ = S.middleRows(prow, B_).cwiseProduct(Mh_);
    return hd_;
  }

  /// Writes the state after processing step s into the output (return_sequences) or, at the end, the final
  /// state; passes the mask on with return_sequences.
  void emit(const Matrix<T>& S, Index s, Index crow, const SeqBatch<T>& x, SeqBatch<T>& y) {
    if (s_.return_sequences) {
      if (s == 0) {
        y.values.resize(T_ * B_, s_.units);
        y.mask = x.mask;
      }
      y.values.middleRows(s * B_, B_) = S.middleRows(crow, B_);
    } else if (s == T_ - 1) {
      y.values = S.middleRows(crow, B_);
      y.mask.clear();
    }
  }

  /// dL/dh arriving at processing step s from the layer's output, added into dh.
  void add_output_grad(const SeqBatch<T>& dy, Index s, Matrix<T>& dh) const {
    if (s_.return_sequences)
      dh += dy.values.middleRows(s * B_, B_);
    else if (s == T_ - 1)
      dh += dy.values;
  }

  /// Mask values (1 real, 0 padding) of input step t, as a B-vector; only valid when masked_.
  auto mask_of(Index t) const { return m_.segment(t * B_, B_); }

  /// Splits a state gradient d (B x H) at input step t by the mask, column by column: reach = m .* d, the part
  /// that reaches the step's new state (real rows), and d keeps (1 - m) .* d, the part a masked row carries
  /// through to the step before.
  template <typename DD, typename DR>
  void split_by_mask(Index t, DD& d, DR&& reach) const {
    const auto m = mask_of(t).array();
    for (Index j = 0; j < d.cols(); ++j) {
      reach.col(j).array() = m * d.col(j).array();
      d.col(j).array() -= reach.col(j).array();
    }
  }

  void draw_mask(Matrix<T>& M, Index cols, double p, Rng& rng) const {
    M.resize(B_, cols);
    const T scale = static_cast<T>(1.0 / (1.0 - p));
    for (Index i = 0; i < M.size(); ++i) M.data()[i] = rng.uniform() < p ? T(0) : scale;
  }

  Index T_ = 0, B_ = 0, D_ = 0;
  bool train_ = false, masked_ = false, drop_x_ = false, drop_h_ = false;
  Vector<T> m_, xs_;
  Matrix<T> Mx_, Mh_, Xd_, Xs_, Hd_, hd_;
  detail::PackedRhs<T> Wp_;  // dense input: W packed for X_t W at every step, then W^T for dX
  Matrix<T> P_, dP_;         // fused embedding: E W (or E[distinct] W in evaluation), dP
  Matrix<T> Eu_, EuT_;       // fused embedding, distinct ids only: E[distinct] and its transpose (D x cap,
                             // padded_rows(D) rows)
  Matrix<T> Wt_;             // the same: W^T (padded_rows rows), for Q = W^T E[distinct]^T and dP W^T
  Matrix<T> dPc_, dEuc_;     // the same: a chunk's dP and dP W^T (distinct_weight_grads)
  std::vector<std::int32_t> distinct_, slot_;  // the distinct ids, ascending; a workspace of V entries
  Matrix<T> Q_;                                // the table the gathers read, transposed: P^T (fused) or W^T (one-hot);
                 // distinct ids in training: also dP^T in the backward (after the gathers)
  bool by_table_ = false;           // G is gathered from Q_, step by step (see project, step_gates)
  bool stepwise_ = false;           // G holds one step, filled by step_gates (see project)
  std::vector<std::int32_t> ids_;   // one-hot or fused input: the ids of the last forward
  detail::RowMajorMatrix<T> work_;  // scatter workspace

 private:
  Layer<T>* emb_ = nullptr;                      // the Embedding read through, when fused
  detail::SharedDistinct<T>* shared_ = nullptr;  // owned by the model (share_distinct)
  int replica_ = 0;
  bool shared_step_ = false;  // the last forward in training read the shared table
  RecurrentSettings s_;
};

}  // namespace seqnet
