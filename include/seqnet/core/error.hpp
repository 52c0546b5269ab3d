#pragma once
/// \file
/// Exception types. Every error seqnet raises derives from seqnet::Error and its message says what was
/// wrong and where ("LSTM 'lstm_1': input has 12 features, the layer was built for 16").

#include <stdexcept>
#include <string>

namespace seqnet {

/// Base of every exception thrown by seqnet.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An argument or setting that makes no sense (negative rate, zero batch size, unknown name, ...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// Shapes that do not fit: a layer fed the wrong number of features, labels that do not match, ...
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// The object is not in the state the call needs (a model used before build or compile, ...).
class StateError : public Error {
 public:
  using Error::Error;
};

/// Reading or writing a file failed (missing, unreadable, disk full).
class IoError : public Error {
 public:
  using Error::Error;
};

/// A file's content is malformed: bad magic, newer version, checksum mismatch, truncated, ...
class FormatError : public Error {
 public:
  using Error::Error;
};

/// Training diverged: the loss became NaN or infinite.
class NumericError : public Error {
 public:
  using Error::Error;
};

}  // namespace seqnet
