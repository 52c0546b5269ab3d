#include <catch2/catch.hpp>
#include <seqnet/model/progress.hpp>

#include <sstream>

namespace test_progress {

using namespace seqnet;

TEST_CASE("ProgressBar: the bar is drawn as Keras draws it", "[progress]") {
  CHECK(ProgressBar::bar(0, 313, 30) == "  0/313 [..............................]");
  CHECK(ProgressBar::bar(45, 313, 30) == " 45/313 [===>..........................]");  // int(30 * 45 / 313) = 4
  CHECK(ProgressBar::bar(313, 313, 30) == "313/313 [==============================]");
  CHECK(ProgressBar::bar(1, 3, 30) == "1/3 [=========>....................]");
  CHECK(ProgressBar::bar(2, 4, 10) == "2/4 [====>.....]");
}

TEST_CASE("ProgressBar: numbers, times and ETA use Keras' formats", "[progress]") {
  CHECK(ProgressBar::format_value(0.51234) == "0.5123");
  CHECK(ProgressBar::format_value(0.0005) == "5.0000e-04");
  CHECK(ProgressBar::format_per_step(0.006) == "6ms/step");
  CHECK(ProgressBar::format_per_step(2.4) == "2s/step");
  CHECK(ProgressBar::format_per_step(0.00085) == "850us/step");
  CHECK(ProgressBar::format_eta(42.7) == "42s");
  CHECK(ProgressBar::format_eta(125) == "2:05");
  CHECK(ProgressBar::format_eta(3723) == "1:02:03");
  CHECK(ProgressBar::format_seconds(1.6) == "2s");
}

TEST_CASE("ProgressBar: running, final and one-line texts", "[progress]") {
  const LogValues v{{"loss", 0.5123}, {"accuracy", 0.7612}};
  // 45 steps in 0.27 s: 6 ms per step, 268 steps left: 1.608 s.
  CHECK(ProgressBar::running_line(45, 313, 0.27, v) ==
        " 45/313 [===>..........................] - ETA: 1s - loss: 0.5123 - accuracy: 0.7612");
  LogValues all = v;
  all.emplace_back("val_loss", 0.45);
  all.emplace_back("val_accuracy", 0.8);
  CHECK(ProgressBar::final_line(313, 1.878, all) ==
        "313/313 [==============================] - 2s 6ms/step - loss: 0.5123 - accuracy: 0.7612 - val_loss: 0.4500 - "
        "val_accuracy: 0.8000");
  CHECK(ProgressBar::epoch_line(313, 1.878, v) == "313/313 - 2s - 6ms/step - loss: 0.5123 - accuracy: 0.7612");
}

TEST_CASE("ProgressBar: redraws at most once per interval and ends with the final line", "[progress]") {
  std::ostringstream os;
  ProgressBar bar(os, 10, Verbosity::ProgressBar);
  const LogValues v{{"loss", 1.0}};
  bar.update(1, v, 0.01);   // first update: drawn
  bar.update(2, v, 0.05);   // too soon
  bar.update(3, v, 0.109);  // too soon (0.099 s after the first draw)
  bar.update(4, v, 0.12);   // drawn
  bar.update(10, v, 0.5);   // the last step is left to finish()
  bar.finish(v, 0.5);
  const std::string s = os.str();
  CHECK(s ==
        "\r 1/10 [==>...........................] - ETA: 0s - loss: 1.0000"
        "\r 4/10 [===========>..................] - ETA: 0s - loss: 1.0000"
        "\r10/10 [==============================] - 0s 50ms/step - loss: 1.0000\n");
}

TEST_CASE("ProgressBar: a shorter line overwrites the rest of a longer one", "[progress]") {
  std::ostringstream os;
  ProgressBar bar(os, 3, Verbosity::ProgressBar);
  bar.update(1, {{"loss", 1.0}, {"a_long_metric_name", 0.5}}, 0.0);
  bar.finish({{"loss", 1.0}}, 0.0);
  const std::string s = os.str();
  const std::size_t second = s.find('\r', 1);
  REQUIRE(second != std::string::npos);
  // The final line is padded to at least the length of the running line it replaces.
  CHECK(s.size() - second - 2 >= second - 1);
  CHECK(s.back() == '\n');
}

TEST_CASE("ProgressBar: one line per epoch and silent modes", "[progress]") {
  std::ostringstream one, quiet;
  ProgressBar a(one, 5, Verbosity::OneLinePerEpoch), b(quiet, 5, Verbosity::Silent);
  for (Index s = 1; s <= 5; ++s) {
    a.update(s, {{"loss", 0.25}}, 0.1 * static_cast<double>(s));
    b.update(s, {{"loss", 0.25}}, 0.1 * static_cast<double>(s));
  }
  a.finish({{"loss", 0.25}}, 0.5);
  b.finish({{"loss", 0.25}}, 0.5);
  CHECK(one.str() == "5/5 - 0s - 100ms/step - loss: 0.2500\n");
  CHECK(quiet.str().empty());
}

}  // namespace test_progress
