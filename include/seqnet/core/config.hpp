#pragma once
/// \file
/// Config: the ordered key/value description of a layer's settings. Layers write it in config(); model
/// files store it; the layer factory reads it back. Values are kept as text so the format stays readable.

#include "seqnet/core/error.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace seqnet {

class Config {
 public:
  using Entry = std::pair<std::string, std::string>;

  Config& set(const std::string& key, const std::string& value) {
    for (auto& e : entries_) {
      if (e.first == key) {
        e.second = value;
        return *this;
      }
    }
    entries_.emplace_back(key, value);
    return *this;
  }
  Config& set(const std::string& key, const char* value) { return set(key, std::string(value)); }
  Config& set(const std::string& key, bool value) { return set(key, std::string(value ? "true" : "false")); }
  Config& set(const std::string& key, long long value) { return set(key, std::to_string(value)); }
  Config& set(const std::string& key, long value) { return set(key, static_cast<long long>(value)); }
  Config& set(const std::string& key, int value) { return set(key, static_cast<long long>(value)); }
  Config& set(const std::string& key, double value) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", value);
    return set(key, std::string(buf));
  }

  bool has(const std::string& key) const { return find(key) != nullptr; }

  const std::string& get_string(const std::string& key) const {
    const std::string* v = find(key);
    if (!v) throw FormatError("config: missing key '" + key + "'");
    return *v;
  }
  long long get_int(const std::string& key) const {
    const std::string& v = get_string(key);
    errno = 0;
    char* end = nullptr;
    const long long out = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || errno != 0 || end != v.c_str() + v.size())
      throw FormatError("config: key '" + key + "' is not an integer: '" + v + "'");
    return out;
  }
  double get_double(const std::string& key) const {
    const std::string& v = get_string(key);
    errno = 0;
    char* end = nullptr;
    const double out = std::strtod(v.c_str(), &end);
    if (v.empty() || errno != 0 || end != v.c_str() + v.size())
      throw FormatError("config: key '" + key + "' is not a number: '" + v + "'");
    return out;
  }
  bool get_bool(const std::string& key) const {
    const std::string& v = get_string(key);
    if (v == "true") return true;
    if (v == "false") return false;
    throw FormatError("config: key '" + key + "' is not true/false: '" + v + "'");
  }
  std::string get_string(const std::string& key, const std::string& fallback) const {
    const std::string* v = find(key);
    return v ? *v : fallback;
  }

  const std::vector<Entry>& entries() const { return entries_; }

  /// Entries whose key starts with `prefix`, with the prefix removed (nested configs, e.g. Bidirectional).
  Config sub(const std::string& prefix) const {
    Config out;
    for (const auto& e : entries_)
      if (e.first.compare(0, prefix.size(), prefix) == 0)
        out.entries_.emplace_back(e.first.substr(prefix.size()), e.second);
    return out;
  }
  /// Adds every entry of `other` with `prefix` in front of its key.
  void merge(const std::string& prefix, const Config& other) {
    for (const auto& e : other.entries_) set(prefix + e.first, e.second);
  }

  friend bool operator==(const Config& a, const Config& b) { return a.entries_ == b.entries_; }

 private:
  const std::string* find(const std::string& key) const {
    for (const auto& e : entries_)
      if (e.first == key) return &e.second;
    return nullptr;
  }
  std::vector<Entry> entries_;
};

}  // namespace seqnet
