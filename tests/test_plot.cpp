#include <catch2/catch.hpp>
#include <seqnet/model/plot.hpp>

#include <cmath>
#include <regex>
#include <string>

namespace test_plot {

using namespace seqnet;

namespace {
int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("plot: one polyline per series with one point per finite value", "[plot]") {
  PlotChart loss{"Loss", "loss", {{"train", {0.7, 0.6, 0.5}}, {"validation", {0.72, NAN, 0.58}}}};
  PlotChart acc{"Accuracy", "accuracy", {{"train", {0.5, 0.6, 0.7}}}};
  const std::string svg = plot_svg({loss, acc});
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(count(svg, "<polyline") == 3);
  std::smatch m;
  std::string rest = svg;
  std::vector<int> points;
  const std::regex poly("points=\"([^\"]*)\"");
  while (std::regex_search(rest, m, poly)) {
    points.push_back(count(m[1].str(), ","));
    rest = m.suffix();
  }
  REQUIRE(points.size() == 3);
  CHECK(points[0] == 3);
  CHECK(points[1] == 2);  // the NaN is left out
  CHECK(points[2] == 3);
}

TEST_CASE("plot: lower values are drawn lower and the first epoch at the left edge", "[plot]") {
  const std::string svg = plot_svg({PlotChart{"Loss", "loss", {{"train", {1.0, 0.0}}}}});
  std::smatch m;
  REQUIRE(std::regex_search(svg, m, std::regex("points=\"([0-9.]+),([0-9.]+) ([0-9.]+),([0-9.]+) \"")));
  const double xa = std::stod(m[1]), ya = std::stod(m[2]), xb = std::stod(m[3]), yb = std::stod(m[4]);
  CHECK(xa == Approx(64.0));  // left margin of the first panel
  CHECK(xb > xa);
  CHECK(yb > ya);  // SVG y grows downwards: the smaller loss is lower on the picture
}

TEST_CASE("plot: names are escaped and a bad path is a clear error", "[plot][errors]") {
  const std::string svg = plot_svg({PlotChart{"a<b & c", "y", {{"\"q\"", {1.0}}}}});
  CHECK(svg.find("a&lt;b &amp; c") != std::string::npos);
  CHECK(svg.find("&quot;q&quot;") != std::string::npos);
  CHECK_THROWS_WITH(write_plot_svg("/nonexistent-folder/x.svg", {}), Catch::Contains("/nonexistent-folder/x.svg"));
}

}  // namespace test_plot
