#pragma once
/// \file
/// Training curves as an SVG picture (like the chapter's matplotlib plots): one panel per chart, each with
/// x = epoch, a y axis with ticks, one polyline per series and a legend. Any browser or image viewer opens it.

#include "seqnet/core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace seqnet {

/// One curve: a name for the legend and one value per epoch (NaN values are left out).
struct PlotSeries {
  std::string name;
  std::vector<double> values;
};

/// One panel: a title, a y-axis label and its curves.
struct PlotChart {
  std::string title;
  std::string y_label;
  std::vector<PlotSeries> series;
};

namespace detail {

inline std::string svg_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

inline std::string fmt(double v, int precision = 4) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks over `range`.
inline double nice_step(double range, int target) {
  if (!(range > 0)) return 1.0;
  const double raw = range / target;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double m = raw / p;
  return (m < 1.5 ? 1.0 : m < 3.5 ? 2.0 : m < 7.5 ? 5.0 : 10.0) * p;
}

}  // namespace detail

/// The SVG text of `charts` side by side.
inline std::string plot_svg(const std::vector<PlotChart>& charts) {
  const double panel_w = 460, panel_h = 320, left = 64, right = 16, top = 36, bottom = 48;
  const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
  std::ostringstream svg;
  const double width = panel_w * static_cast<double>(std::max<std::size_t>(charts.size(), 1));
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << panel_h
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (std::size_t c = 0; c < charts.size(); ++c) {
    const PlotChart& chart = charts[c];
    const double x0 = panel_w * static_cast<double>(c) + left, x1 = panel_w * static_cast<double>(c + 1) - right;
    const double y0 = panel_h - bottom, y1 = top;
    double lo = INFINITY, hi = -INFINITY;
    std::size_t n = 0;
    for (const auto& s : chart.series) {
      n = std::max(n, s.values.size());
      for (double v : s.values)
        if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
    const double pad = 0.05 * (hi - lo);
    lo -= pad;
    hi += pad;
    const double epochs = static_cast<double>(std::max<std::size_t>(n, 2));
    auto px = [&](double epoch) { return x0 + (epoch - 1) / (epochs - 1) * (x1 - x0); };
    auto py = [&](double v) { return y0 - (v - lo) / (hi - lo) * (y0 - y1); };

    svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">"
        << detail::svg_escape(chart.title) << "</text>\n";
    svg << "<rect x=\"" << x0 << "\" y=\"" << y1 << "\" width=\"" << x1 - x0 << "\" height=\"" << y0 - y1
        << "\" fill=\"none\" stroke=\"#444\"/>\n";
    const double ystep = detail::nice_step(hi - lo, 5);
    for (double v = std::ceil(lo / ystep) * ystep; v <= hi; v += ystep) {
      svg << "<line x1=\"" << x0 << "\" x2=\"" << x1 << "\" y1=\"" << py(v) << "\" y2=\"" << py(v)
          << "\" stroke=\"#ddd\"/>\n";
      svg << "<text x=\"" << x0 - 6 << "\" y=\"" << py(v) + 4 << "\" text-anchor=\"end\">" << detail::fmt(v, 3)
          << "</text>\n";
    }
    const double xstep = std::max(1.0, detail::nice_step(epochs - 1, 6));
    for (double e = 1; e <= epochs; e += xstep)
      svg << "<text x=\"" << px(e) << "\" y=\"" << y0 + 16 << "\" text-anchor=\"middle\">" << e << "</text>\n";
    svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << panel_h - 12 << "\" text-anchor=\"middle\">epoch</text>\n";
    svg << "<text transform=\"translate(" << x0 - 48 << "," << (y0 + y1) / 2
        << ") rotate(-90)\" text-anchor=\"middle\">" << detail::svg_escape(chart.y_label) << "</text>\n";
    for (std::size_t s = 0; s < chart.series.size(); ++s) {
      const char* color = colors[s % 6];
      svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
      const auto& vals = chart.series[s].values;
      for (std::size_t i = 0; i < vals.size(); ++i)
        if (std::isfinite(vals[i]))
          svg << detail::fmt(px(static_cast<double>(i + 1)), 6) << ',' << detail::fmt(py(vals[i]), 6) << ' ';
      svg << "\"/>\n";
    }
    // The legend last, on a white box, so no curve runs through its text.
    if (!chart.series.empty())
      svg << "<rect x=\"" << x1 - 116 << "\" y=\"" << y1 + 4 << "\" width=\"112\" height=\""
          << 16 * static_cast<double>(chart.series.size()) + 4 << "\" fill=\"white\" fill-opacity=\"0.85\"/>\n";
    for (std::size_t s = 0; s < chart.series.size(); ++s) {
      const char* color = colors[s % 6];
      const double ly = y1 + 16 + 16 * static_cast<double>(s);
      svg << "<line x1=\"" << x1 - 110 << "\" x2=\"" << x1 - 90 << "\" y1=\"" << ly - 4 << "\" y2=\"" << ly - 4
          << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n";
      svg << "<text x=\"" << x1 - 84 << "\" y=\"" << ly << "\">" << detail::svg_escape(chart.series[s].name)
          << "</text>\n";
    }
  }
  svg << "</svg>\n";
  return svg.str();
}

/// Writes plot_svg(charts) to `path` (IoError naming the path on failure).
inline void write_plot_svg(const std::string& path, const std::vector<PlotChart>& charts) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw IoError("cannot write plot '" + path + "': " + std::strerror(errno));
  f << plot_svg(charts);
  f.close();
  if (!f) throw IoError("writing plot '" + path + "' failed");
}

}  // namespace seqnet
