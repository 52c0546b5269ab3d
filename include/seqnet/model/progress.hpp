#pragma once
/// \file
/// The per-epoch progress display of fit(), in Keras' format:
///
///     Epoch 3/100
///      45/313 [====>.........................] - ETA: 1s - loss: 0.6931 - accuracy: 0.5000     (redrawn with '\r')
///     313/313 [==============================] - 2s 6ms/step - loss: 0.5123 - accuracy: 0.7612 - val_loss: ...
///
/// or, with Verbosity::OneLinePerEpoch, "313/313 - 2s - 6ms/step - loss: ..." once per epoch. The clock is
/// passed in (seconds since the epoch began), so the formatting is testable; the running line is redrawn at
/// most once per `interval` seconds.

#include "seqnet/core/types.hpp"
#include "seqnet/model/history.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>

namespace seqnet {

/// How much fit() prints (Keras' verbose=0, 1, 2).
enum class Verbosity { Silent, ProgressBar, OneLinePerEpoch };

struct ProgressOptions {
  int width = 30;         ///< characters inside the brackets
  double interval = 0.1;  ///< minimum seconds between two redraws of the running line
};

class ProgressBar {
 public:
  ProgressBar(std::ostream& out, Index total_steps, Verbosity verbosity, ProgressOptions options = {})
      : out_(out), total_(std::max<Index>(total_steps, 1)), verbosity_(verbosity), opt_(options) {}

  /// After `step` of total steps (1-based), `elapsed` seconds into the epoch, with running averages.
  void update(Index step, const LogValues& values, double elapsed) {
    // The last step is drawn by finish(), with the validation values.
    if (verbosity_ != Verbosity::ProgressBar || step >= total_) return;
    if (drawn_ && elapsed - last_draw_ < opt_.interval) return;
    draw(running_line(step, total_, elapsed, values, opt_.width), false);
    last_draw_ = elapsed;
    drawn_ = true;
  }

  /// The epoch's final line (training and validation values), ended by a newline.
  void finish(const LogValues& values, double elapsed) {
    if (verbosity_ == Verbosity::ProgressBar)
      draw(final_line(total_, elapsed, values, opt_.width), true);
    else if (verbosity_ == Verbosity::OneLinePerEpoch)
      draw(epoch_line(total_, elapsed, values), true);
  }

  // ---- formatting (pure functions) ------------------------------------------------------------------

  /// " 45/313 [====>.........................]"
  static std::string bar(Index step, Index total, int width) {
    std::string s = counter(step, total) + " [";
    const Index done = std::min<Index>(step, total);
    const int filled =
        static_cast<int>(static_cast<double>(width) * static_cast<double>(done) / static_cast<double>(total));
    if (filled > 0) {
      s.append(static_cast<std::size_t>(filled - 1), '=');
      s += done < total ? '>' : '=';
    }
    s.append(static_cast<std::size_t>(width - filled), '.');
    return s + "]";
  }

  /// The line shown while an epoch runs: bar, ETA, running values.
  static std::string running_line(Index step, Index total, double elapsed, const LogValues& values, int width = 30) {
    const double per_step = step > 0 ? elapsed / static_cast<double>(step) : 0.0;
    return bar(step, total, width) + " - ETA: " + format_eta(per_step * static_cast<double>(total - step)) +
           values_text(values);
  }

  /// The line that ends an epoch: full bar, wall time, time per step, values.
  static std::string final_line(Index total, double elapsed, const LogValues& values, int width = 30) {
    return bar(total, total, width) + " - " + format_seconds(elapsed) + " " +
           format_per_step(elapsed / static_cast<double>(total)) + values_text(values);
  }

  /// The single line per epoch of Verbosity::OneLinePerEpoch.
  static std::string epoch_line(Index total, double elapsed, const LogValues& values) {
    return counter(total, total) + " - " + format_seconds(elapsed) + " - " +
           format_per_step(elapsed / static_cast<double>(total)) + values_text(values);
  }

  /// " - loss: 0.5123 - accuracy: 0.7612" (values of magnitude <= 1e-3 in scientific notation, as Keras).
  static std::string values_text(const LogValues& values) {
    std::string s;
    for (const auto& kv : values) s += " - " + kv.first + ": " + format_value(kv.second);
    return s;
  }

  static std::string format_value(double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, std::abs(v) > 1e-3 ? "%.4f" : "%.4e", v);
    return buf;
  }
  /// "2s" (whole seconds, as Keras prints an epoch's time).
  static std::string format_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0fs", s);
    return buf;
  }
  /// "6ms/step", "2s/step" or "850us/step".
  static std::string format_per_step(double s) {
    char buf[32];
    if (s >= 1 || s == 0)
      std::snprintf(buf, sizeof buf, "%.0fs/step", s);
    else if (s >= 1e-3)
      std::snprintf(buf, sizeof buf, "%.0fms/step", s * 1e3);
    else
      std::snprintf(buf, sizeof buf, "%.0fus/step", s * 1e6);
    return buf;
  }
  /// "1:02:03", "2:05" or "42s".
  static std::string format_eta(double s) {
    if (!(s >= 0) || !std::isfinite(s)) s = 0;
    const long long t = static_cast<long long>(s);
    char buf[48];
    if (t > 3600)
      std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, (t % 3600) / 60, t % 60);
    else if (t > 60)
      std::snprintf(buf, sizeof buf, "%lld:%02lld", t / 60, t % 60);
    else
      std::snprintf(buf, sizeof buf, "%llds", t);
    return buf;
  }

 private:
  static std::string counter(Index step, Index total) {
    const std::string t = std::to_string(total), c = std::to_string(step);
    return std::string(c.size() < t.size() ? t.size() - c.size() : 0, ' ') + c + "/" + t;
  }

  // Redraws over the previous running line; pads with spaces when the new line is shorter.
  void draw(const std::string& line, bool final) {
    if (verbosity_ == Verbosity::ProgressBar) out_ << '\r';
    out_ << line;
    if (line.size() < prev_width_) out_ << std::string(prev_width_ - line.size(), ' ');
    prev_width_ = final ? 0 : line.size();
    if (final) out_ << '\n';
    out_.flush();
  }

  std::ostream& out_;
  Index total_;
  Verbosity verbosity_;
  ProgressOptions opt_;
  bool drawn_ = false;
  double last_draw_ = 0;
  std::size_t prev_width_ = 0;
};

}  // namespace seqnet
