#pragma once
// Shared test helpers: central finite-difference gradient checks of a layer for its input and every
// parameter, in double precision. The loss is L = sum(w .* y) for a fixed random weighting w, so dL/dy = w.
// The Rng given to forward is re-seeded before every call, which fixes the dropout masks.

#include <seqnet/core/rng.hpp>
#include <seqnet/core/types.hpp>
#include <seqnet/layers/layer.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace seqnet_test {

using seqnet::Index;

struct GradReport {
  double worst = 0.0;       // worst relative error over everything checked
  std::string worst_where;  // "input[3]", "kernel[5]", ...
  int checked = 0;
};

// |a - n| relative to the larger of the two, and absolute for entries under 1e-3. The central difference
// with h = 1e-6 (gradcheck) carries a rounding error of about eps |L| / h, 1e-10 for the test losses of a few
// units, so a gradient entry of 1e-4 is known to about 1e-6 of itself only: a floor of 1e-3 keeps the check
// of such entries at 1e-9 absolute, ten times that noise, instead of at the noise itself (a GRU entry of
// 1.0e-4 measured 1.4e-6 off in a -march=native build, where other roundings of the same sums apply).
inline double rel_error(double a, double n) {
  const double denom = std::max({std::abs(a), std::abs(n), 1e-3});
  return std::abs(a - n) / denom;
}

// A random batch of `batch` samples of shape `s` (dense values in [-1, 1] or ids in [0, depth)).
inline seqnet::SeqBatch<double> random_batch(const seqnet::Shape& s, Index batch, std::uint64_t seed) {
  seqnet::Rng rng(seed);
  seqnet::SeqBatch<double> x;
  x.batch = batch;
  x.shape = s;
  x.values.resize(s.rows_per_sample() * batch, s.columns());
  for (Index i = 0; i < x.values.size(); ++i) {
    if (s.encoding == seqnet::Encoding::Dense)
      x.values.data()[i] = rng.uniform(-1.0, 1.0);
    else
      x.values.data()[i] = static_cast<double>(
          rng.below(static_cast<std::uint64_t>(s.encoding == seqnet::Encoding::OneHot ? s.features : 10)));
  }
  return x;
}

// Checks dL/dx and dL/dtheta of `layer` (built, initialised) at input x against central differences.
inline GradReport gradcheck(seqnet::Layer<double>& layer, seqnet::SeqBatch<double> x, std::uint64_t seed = 7,
                            double h = 1e-6, seqnet::Mode mode = seqnet::Mode::Train) {
  GradReport rep;
  const std::uint64_t dropout_seed = seed * 31 + 1;
  auto run = [&](const seqnet::SeqBatch<double>& in) -> const seqnet::SeqBatch<double>& {
    seqnet::Rng rng(dropout_seed);
    return layer.forward(in, mode, &rng);
  };
  const seqnet::SeqBatch<double>& y0 = run(x);
  seqnet::Matrix<double> w(y0.values.rows(), y0.values.cols());
  seqnet::Rng wr(seed);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = wr.uniform(-1.0, 1.0);
  auto loss = [&](const seqnet::SeqBatch<double>& in) { return run(in).values.cwiseProduct(w).sum(); };

  // Analytic gradients.
  run(x);
  layer.zero_grad();
  seqnet::SeqBatch<double> dy;
  dy.values = w;
  dy.batch = x.batch;
  dy.shape = layer.output_shape();
  const seqnet::Matrix<double> dx = layer.backward(dy).values;
  std::vector<seqnet::Matrix<double>> grads;
  for (auto& p : layer.params()) grads.push_back(p.grad);

  auto note = [&](double a, double n, const std::string& what) {
    const double e = rel_error(a, n);
    ++rep.checked;
    if (e > rep.worst) {
      rep.worst = e;
      rep.worst_where = what + " analytic " + std::to_string(a) + " numeric " + std::to_string(n);
    }
  };
  if (layer.input_grad()) {
    for (Index i = 0; i < x.values.size(); ++i) {
      const double keep = x.values.data()[i];
      x.values.data()[i] = keep + h;
      const double lp = loss(x);
      x.values.data()[i] = keep - h;
      const double lm = loss(x);
      x.values.data()[i] = keep;
      note(dx.data()[i], (lp - lm) / (2 * h), "input[" + std::to_string(i) + "]");
    }
  }
  auto params = layer.params();
  for (std::size_t k = 0; k < params.size(); ++k) {
    auto& v = params[k].value;
    for (Index i = 0; i < v.size(); ++i) {
      const double keep = v.data()[i];
      v.data()[i] = keep + h;
      const double lp = loss(x);
      v.data()[i] = keep - h;
      const double lm = loss(x);
      v.data()[i] = keep;
      note(grads[k].data()[i], (lp - lm) / (2 * h), params[k].spec->name + "[" + std::to_string(i) + "]");
    }
  }
  return rep;
}

}  // namespace seqnet_test
