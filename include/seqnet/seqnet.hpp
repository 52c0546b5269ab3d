#pragma once
/// \file
/// seqnet: recurrent neural networks on Eigen, header-only. This umbrella header includes the public API.

#include "seqnet/core/activation.hpp"
#include "seqnet/core/config.hpp"
#include "seqnet/core/error.hpp"
#include "seqnet/core/init.hpp"
#include "seqnet/core/param.hpp"
#include "seqnet/core/rng.hpp"
#include "seqnet/core/tensor.hpp"
#include "seqnet/core/types.hpp"
#include "seqnet/layers/dense.hpp"
#include "seqnet/layers/layer.hpp"
