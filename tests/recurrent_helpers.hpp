#pragma once
// Helpers shared by the recurrent layer tests: batches built from plain arrays, padding with masks, a
// two-layer stack that gradcheck can treat as one layer, and float copies of double layers.

#include "gradcheck.hpp"

#include <seqnet/layers/layer.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace seqnet_test {

// A dense batch whose value for (step t, sample b, feature f) is v(t, b, f).
template <typename T, typename F>
seqnet::SeqBatch<T> make_batch(Index steps, Index batch, Index features, F v) {
  seqnet::SeqBatch<T> x;
  x.batch = batch;
  x.shape = seqnet::Shape::sequence(steps, features);
  x.values.resize(steps * batch, features);
  for (Index t = 0; t < steps; ++t)
    for (Index b = 0; b < batch; ++b)
      for (Index f = 0; f < features; ++f) x.values(t * batch + b, f) = static_cast<T>(v(t, b, f));
  return x;
}

// `x` with `pad` extra steps of junk values (before the data when pre, else after), masked out; the rows of
// real data keep mask 1.
template <typename T>
seqnet::SeqBatch<T> pad_with_mask(const seqnet::SeqBatch<T>& x, Index pad, bool pre, std::uint64_t seed = 99) {
  seqnet::Rng rng(seed);
  const Index steps = x.steps(), B = x.batch, total = steps + pad;
  seqnet::SeqBatch<T> y;
  y.batch = B;
  y.shape = x.shape;
  y.shape.steps = total;
  y.values.resize(total * B, x.values.cols());
  y.mask.assign(static_cast<std::size_t>(total * B), 0);
  const Index first = pre ? pad : 0;
  for (Index t = 0; t < total; ++t) {
    const bool real = t >= first && t < first + steps;
    for (Index b = 0; b < B; ++b) {
      const Index r = t * B + b;
      if (real) {
        y.values.row(r) = x.values.row((t - first) * B + b);
        y.mask[static_cast<std::size_t>(r)] = 1;
      } else {
        for (Index f = 0; f < y.values.cols(); ++f)
          y.values(r, f) = x.shape.encoding == seqnet::Encoding::Dense ? static_cast<T>(rng.uniform(-3.0, 3.0)) : T(1);
      }
    }
  }
  return y;
}

// The dense one-hot tensor of an id batch.
template <typename T>
seqnet::SeqBatch<T> densify(const seqnet::SeqBatch<T>& ids) {
  seqnet::SeqBatch<T> d;
  d.batch = ids.batch;
  d.shape = seqnet::Shape::sequence(ids.shape.steps, ids.shape.features);
  d.values = seqnet::Matrix<T>::Zero(ids.values.rows(), ids.shape.features);
  for (Index r = 0; r < ids.values.rows(); ++r) d.values(r, static_cast<Index>(ids.values(r, 0))) = T(1);
  d.mask = ids.mask;
  return d;
}

// Two layers chained (a -> b) behaving as one layer, parameters of a then of b, so that gradcheck covers
// the gradient flowing from one recurrent layer into another.
template <typename T>
class Stack2 final : public seqnet::Layer<T> {
 public:
  Stack2(std::unique_ptr<seqnet::Layer<T>> a, std::unique_ptr<seqnet::Layer<T>> b)
      : a_(std::move(a)), b_(std::move(b)) {}
  std::string type_name() const override { return "Stack2"; }
  std::string default_name() const override { return "stack2"; }
  seqnet::Config config() const override { return {}; }
  std::unique_ptr<seqnet::Layer<T>> clone_unbuilt() const override {
    return std::make_unique<Stack2<T>>(a_->clone_unbuilt(), b_->clone_unbuilt());
  }

 protected:
  seqnet::Shape do_build(const seqnet::Shape& in) override {
    const seqnet::Shape mid = a_->build(in);
    const seqnet::Shape out = b_->build(mid);
    for (const auto& s : a_->param_specs()) this->declare_param("a_" + s.name, s.rows, s.cols, s.init);
    for (const auto& s : b_->param_specs()) this->declare_param("b_" + s.name, s.rows, s.cols, s.init);
    return out;
  }
  void do_forward(const seqnet::SeqBatch<T>& x, seqnet::SeqBatch<T>& y, seqnet::Mode mode, seqnet::Rng* rng) override {
    bind_inner();
    const auto& mid = a_->forward(x, mode, rng);
    const auto& out = b_->forward(mid, mode, rng);
    y.values = out.values;
    y.mask = out.mask;
  }
  void do_backward(const seqnet::SeqBatch<T>&, const seqnet::SeqBatch<T>& dy, seqnet::SeqBatch<T>& dx) override {
    bind_inner();
    a_->set_input_grad(this->input_grad());
    const auto& dmid = b_->backward(dy);
    const auto& dxa = a_->backward(dmid);
    dx.values = dxa.values;
  }

 private:
  void bind_inner() {
    T* v = this->param(0).data();
    T* g = this->grad(0).data();
    if (a_->num_params() > 0 && a_->param(0).data() == v && a_->grad(0).data() == g) return;
    a_->bind(v, g, false);
    b_->bind(v + a_->num_params(), g + a_->num_params(), false);
  }
  std::unique_ptr<seqnet::Layer<T>> a_, b_;
};

// Copies the parameter values of `from` into `to` (same architecture, other scalar type).
template <typename A, typename B>
void copy_params(seqnet::Layer<A>& from, seqnet::Layer<B>& to) {
  auto pf = from.params();
  auto pt = to.params();
  for (std::size_t i = 0; i < pf.size(); ++i) pt[i].value = pf[i].value.template cast<B>();
}

// Gives every parameter random values in [-lo, lo] (biases too, so that no gate sits at an exact zero).
template <typename T>
void randomize(seqnet::Layer<T>& l, std::uint64_t seed, double lo = 0.6) {
  seqnet::Rng rng(seed);
  for (auto& p : l.params())
    for (Index i = 0; i < p.value.size(); ++i) p.value.data()[i] = static_cast<T>(rng.uniform(-lo, lo));
}

// The same layer in double and in float, the float one with the double one's parameters, on one dense
// batch: forward in `mode` (the same dropout masks: one Rng seed) and, in Mode::Train, backward of the same
// dy. Returns the largest difference of the outputs, dx and the parameter gradients, each over the largest
// magnitude of its double values. With float's SIMD math this compares the float-only paths (the fused step)
// with the double path.
template <template <typename> class L, typename O>
double float_double_gap(Index units, const O& opts, Index steps, Index batch, Index features, seqnet::Mode mode) {
  L<double> d(units, opts);
  L<float> f(units, opts);
  const seqnet::Shape in = seqnet::Shape::sequence(steps, features);
  d.build(in);
  f.build(in);
  randomize(d, 17);
  copy_params(d, f);
  const auto x = random_batch(in, batch, 3);
  seqnet::SeqBatch<float> xf;
  xf.batch = batch;
  xf.shape = x.shape;
  xf.values = x.values.template cast<float>();
  const auto gap = [](const seqnet::Matrix<double>& want, const seqnet::Matrix<double>& got) {
    return (want - got).cwiseAbs().maxCoeff() / std::max(1e-3, want.cwiseAbs().maxCoeff());
  };
  seqnet::Rng rd(9), rf(9);
  const seqnet::Matrix<double> yd = d.forward(x, mode, &rd).values;
  double worst = gap(yd, f.forward(xf, mode, &rf).values.template cast<double>());
  if (mode == seqnet::Mode::Train) {
    seqnet::SeqBatch<double> dy;
    dy.batch = batch;
    dy.shape = d.output_shape();
    dy.values = random_batch(seqnet::Shape::vector(yd.cols()), yd.rows(), 4).values;
    seqnet::SeqBatch<float> dyf;
    dyf.batch = batch;
    dyf.shape = dy.shape;
    dyf.values = dy.values.template cast<float>();
    d.set_input_grad(true);
    f.set_input_grad(true);
    d.zero_grad();
    f.zero_grad();
    const seqnet::Matrix<double> dxd = d.backward(dy).values;
    worst = std::max(worst, gap(dxd, f.backward(dyf).values.template cast<double>()));
    auto pd = d.params();
    auto pf = f.params();
    for (std::size_t k = 0; k < pd.size(); ++k)
      worst = std::max(worst, gap(pd[k].grad, pf[k].grad.template cast<double>()));
  }
  return worst;
}

}  // namespace seqnet_test
