#pragma once
/// \file
/// Little-endian byte encoding for seqnet's files: ByteWriter appends to a string, ByteReader reads from
/// a bounded view and checks every read against the bytes that remain, so a corrupt length can never make
/// it read past the end or allocate more than the input holds. Multi-byte values are written byte by byte
/// with shifts, so the files are the same on every host whatever its endianness.

#include "seqnet/core/error.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace seqnet {
namespace detail {

/// Appends little-endian values to a byte string.
class ByteWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f32(float v) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    u32(bits);
  }
  void f64(double v) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    u64(bits);
  }
  /// u32 byte count, then the bytes (no terminator).
  void str(std::string_view s) {
    if (s.size() > std::numeric_limits<std::uint32_t>::max()) throw InvalidArgument("string too long for a u32 length");
    u32(static_cast<std::uint32_t>(s.size()));
    bytes(s);
  }
  void bytes(std::string_view s) { out_.append(s.data(), s.size()); }
  void reserve(std::size_t n) { out_.reserve(n); }

  std::size_t size() const { return out_.size(); }
  const std::string& data() const { return out_; }
  std::string& data() { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

/// Reads little-endian values from a view. Every read checks the bytes that remain first and throws
/// FormatError("<context>: <what> at byte <offset> needs N bytes, only M remain") otherwise.
class ByteReader {
 public:
  /// `base` is the offset of data[0] in the whole file, for messages.
  ByteReader(std::string_view data, std::string context, std::size_t base = 0)
      : data_(data), context_(std::move(context)), base_(base) {}

  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t offset() const { return base_ + pos_; }
  bool at_end() const { return pos_ == data_.size(); }
  const std::string& context() const { return context_; }

  std::uint8_t u8(const char* what) {
    need(1, what);
    return static_cast<std::uint8_t>(data_[pos_++]);
  }
  std::uint32_t u32(const char* what) {
    need(4, what);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += 4;
    return v;
  }
  std::uint64_t u64(const char* what) {
    need(8, what);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  std::int64_t i64(const char* what) {
    const std::uint64_t u = u64(what);
    std::int64_t v = 0;
    std::memcpy(&v, &u, sizeof v);  // two's complement reinterpretation without implementation-defined casts
    return v;
  }
  float f32(const char* what) {
    const std::uint32_t bits = u32(what);
    float v = 0;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  double f64(const char* what) {
    const std::uint64_t bits = u64(what);
    double v = 0;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  /// A u32-length-prefixed string; the length is checked against the bytes remaining before copying.
  std::string str(const char* what) {
    const std::uint32_t n = u32(what);
    return std::string(bytes(n, what));
  }
  /// A view of the next n bytes (n is checked against the bytes remaining).
  std::string_view bytes(std::uint64_t n, const char* what) {
    need(n, what);
    std::string_view out = data_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  /// A count of items that each take at least `min_item_bytes`: refused when the bytes remaining cannot
  /// hold that many, so callers may reserve() the count safely.
  std::uint32_t count(const char* what, std::size_t min_item_bytes) {
    const std::size_t at = offset();
    const std::uint32_t n = u32(what);
    if (min_item_bytes > 0 && n > remaining() / min_item_bytes)
      fail(at, std::string(what) + " is " + std::to_string(n) + ", but only " + std::to_string(remaining()) +
                   " bytes remain (at least " + std::to_string(min_item_bytes) + " each)");
    return n;
  }

  [[noreturn]] void fail(std::size_t at, const std::string& msg) const {
    throw FormatError(context_ + ": " + msg + " (at byte " + std::to_string(at) + ")");
  }
  [[noreturn]] void fail(const std::string& msg) const { fail(offset(), msg); }

 private:
  void need(std::uint64_t n, const char* what) const {
    if (n > remaining())
      fail(std::string(what) + " needs " + std::to_string(n) + " bytes, but only " + std::to_string(remaining()) +
           " remain (truncated or corrupted)");
  }

  std::string_view data_;
  std::string context_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
};

}  // namespace detail
}  // namespace seqnet
