#pragma once
/// \file
/// Activations as an enum (never strings in the API), with inline elementwise kernels. Derivatives are
/// written in terms of the activation's OUTPUT y, which is what layers cache.

#include "seqnet/core/error.hpp"

#include <Eigen/Core>

#include <cmath>
#include <string>

namespace seqnet {

enum class Activation { Linear, Relu, Sigmoid, Tanh, Softmax };

inline const char* to_string(Activation a) {
  switch (a) {
    case Activation::Linear:
      return "linear";
    case Activation::Relu:
      return "relu";
    case Activation::Sigmoid:
      return "sigmoid";
    case Activation::Tanh:
      return "tanh";
    case Activation::Softmax:
      return "softmax";
  }
  return "?";
}

inline Activation activation_from_string(const std::string& s) {
  if (s == "linear") return Activation::Linear;
  if (s == "relu") return Activation::Relu;
  if (s == "sigmoid") return Activation::Sigmoid;
  if (s == "tanh") return Activation::Tanh;
  if (s == "softmax") return Activation::Softmax;
  throw InvalidArgument("unknown activation '" + s + "' (expected linear, relu, sigmoid, tanh or softmax)");
}

namespace detail {

/// Logistic sigmoid, stable for large |x|.
template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

/// Applies a pointwise activation (not softmax) in place to n contiguous values, vectorised by Eigen.
template <typename T>
inline void activate_inplace(Activation a, T* v, Eigen::Index n) {
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> x(v, n);
  switch (a) {
    case Activation::Linear:
      break;
    case Activation::Relu:
      x = x.max(T(0));
      break;
    case Activation::Sigmoid:
      x = x.logistic();
      break;
    case Activation::Tanh:
      x = x.tanh();
      break;
    case Activation::Softmax:
      throw InvalidArgument("softmax is not a pointwise activation");
  }
}

/// dy/dx of a pointwise activation from its output y.
template <typename T>
inline T activation_grad_from_output(Activation a, T y) {
  switch (a) {
    case Activation::Linear:
      return T(1);
    case Activation::Relu:
      return y > T(0) ? T(1) : T(0);
    case Activation::Sigmoid:
      return y * (T(1) - y);
    case Activation::Tanh:
      return T(1) - y * y;
    case Activation::Softmax:
      break;
  }
  return T(1);
}

}  // namespace detail
}  // namespace seqnet
