#pragma once
// Fixtures shared by the model-level tests: a temporary file path, a one-weight model, a hand-made epoch log.

#include <seqnet/layers/dense.hpp>
#include <seqnet/model/history.hpp>
#include <seqnet/model/sequential.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace seqnet_test {

// A fresh path `<prefix>_<pid>_<name>` in the test binary folder (or /tmp), removed by the destructor.
struct TempPath {
  std::string path;
  TempPath(const std::string& prefix, const std::string& name) {
    const char* dir = std::getenv("SEQNET_TEST_BINARY_DIR");
    path = std::string(dir ? dir : "/tmp") + "/" + prefix + "_" + std::to_string(::getpid()) + "_" + name;
    std::remove(path.c_str());
  }
  ~TempPath() { std::remove(path.c_str()); }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
};

// Dense(1) on one input: two parameters.
inline seqnet::Sequential<double> tiny() {
  seqnet::Sequential<double> m;
  m.add(seqnet::Dense<double>(1));
  m.build(seqnet::Shape::vector(1));
  return m;
}

// The log of epoch `epoch` with loss 1 and `key` = v.
inline seqnet::EpochLog log_of(int epoch, const std::string& key, double v) {
  seqnet::EpochLog l;
  l.epoch = epoch;
  l.values = {{"loss", 1.0}, {key, v}};
  return l;
}

}  // namespace seqnet_test
