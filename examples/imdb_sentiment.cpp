// imdb_sentiment: the chapter's IMDB experiments with seqnet.
//
//   imdb_sentiment --data DIR --model lstm [--epochs 100 ...]      train, checkpoint the best model, test it
//   imdb_sentiment --model gru --summary-only                      print the model's summary
//   imdb_sentiment predict --model-file out/best_model.seqnet "a review" ...   score raw text
//
// The defaults are the chapter's settings (book-results.md): num_words 500, maxlen 100, RMSprop(1e-4),
// batch 64, up to 100 epochs, 20% validation split, early stopping with patience 3 on val_loss.

#include "chapter_models.hpp"

#include <CLI/CLI.hpp>
#include <seqnet/seqnet.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using seqnet::Index;
using Real = float;

struct TrainArgs {
  std::string data;
  chapter::ModelSpec spec;
  std::string task = "sentiment";  // sentiment | rating
  std::string optimizer = "rmsprop";
  double lr = 0;  // 0: the optimizer's chapter default (RMSprop 1e-4, Adam 1e-3, SGD 1e-2)
  Index batch_size = 64;
  int epochs = 100;
  int patience = 3;
  std::uint64_t seed = 42;
  int threads = 2;
  Index max_train = 0;
  std::string out = "out";
  bool summary_only = false;
  bool quiet = false;
};

struct PredictArgs {
  std::string model_file;
  std::vector<std::string> texts;
};

// The 8 star ratings of aclImdb (1-4 and 7-10) as classes 0..7, and back.
Index rating_to_class(std::int32_t r) { return r <= 4 ? r - 1 : r - 3; }
std::int32_t class_to_rating(Index c) { return static_cast<std::int32_t>(c < 4 ? c + 1 : c + 3); }

std::string fixed(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::unique_ptr<seqnet::Optimizer<Real>> make_optimizer(const std::string& name, double lr) {
  if (name == "rmsprop") {
    seqnet::RMSpropOptions o;
    o.learning_rate = lr > 0 ? lr : 1e-4;
    return std::make_unique<seqnet::RMSprop<Real>>(o);
  }
  if (name == "adam") {
    seqnet::AdamOptions o;
    o.learning_rate = lr > 0 ? lr : 1e-3;
    return std::make_unique<seqnet::Adam<Real>>(o);
  }
  if (name == "sgd") {
    seqnet::SGDOptions o;
    o.learning_rate = lr > 0 ? lr : 1e-2;
    return std::make_unique<seqnet::SGD<Real>>(o);
  }
  throw seqnet::InvalidArgument("unknown optimizer '" + name + "' (expected rmsprop, adam or sgd)");
}

// Labels of the chosen task as a tensor: (n) of 0/1, or (n) of class ids 0..7.
seqnet::Tensor<Real> labels_for(const seqnet::text::ImdbSplit& split, const std::vector<Index>& rows, bool rating) {
  seqnet::Tensor<Real> y({static_cast<Index>(rows.size())});
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto r = static_cast<std::size_t>(rows[i]);
    y.values()[i] = rating ? static_cast<Real>(rating_to_class(split.ratings[r])) : static_cast<Real>(split.labels[r]);
  }
  return y;
}

void write_history_csv(const std::string& path, const seqnet::History& h, const std::string& metric) {
  std::ofstream f(path);
  if (!f) throw seqnet::IoError("cannot write '" + path + "'");
  f << "epoch,loss," << metric << ",val_loss,val_" << metric << ",seconds\n";
  for (const auto& e : h.epochs)
    f << e.epoch + 1 << ',' << e.get("loss") << ',' << e.get(metric) << ',' << e.get("val_loss") << ','
      << e.get("val_" + metric) << ',' << e.seconds << '\n';
  if (!f) throw seqnet::IoError("writing '" + path + "' failed");
}

int run_predict(const PredictArgs& args) {
  seqnet::ModelExtras extras;
  seqnet::Sequential<Real> model = seqnet::load_model<Real>(args.model_file, &extras);
  if (!extras.has("vocabulary"))
    throw seqnet::FormatError("model file '" + args.model_file + "' holds no vocabulary, so it cannot score text");
  const auto vocab = seqnet::text::Vocabulary::deserialize(extras.get("vocabulary"));
  const Index maxlen = model.input_shape().steps;
  const bool rating = model.output_shape().features > 1;

  std::vector<std::string> texts = args.texts;
  const bool from_stdin = texts.empty();
  if (from_stdin) {
    std::string line;
    while (std::getline(std::cin, line))
      if (line.find_first_not_of(" \t\r") != std::string::npos) texts.push_back(line);
    if (texts.empty())
      throw seqnet::InvalidArgument("no text given: pass texts as arguments or lines on standard input");
  }
  std::vector<std::vector<std::int32_t>> ids;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].find_first_not_of(" \t\r\n") == std::string::npos)
      throw seqnet::InvalidArgument("text " + std::to_string(i + 1) + " is empty");
    ids.push_back(vocab.encode(texts[i]));
  }
  seqnet::text::PadOptions pad;
  pad.maxlen = maxlen;
  const auto x = seqnet::text::pad_sequences(ids, pad).cast<Real>();
  const auto p = model.predict(x);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto row = static_cast<Index>(i);
    std::string shown = texts[i].size() > 60 ? texts[i].substr(0, 57) + "..." : texts[i];
    if (rating) {
      Index best = 0;
      for (Index c = 1; c < p.dim(1); ++c)
        if (p(row, c) > p(row, best)) best = c;
      std::cout << class_to_rating(best) << " stars (p=" << fixed(p(row, best), 3) << ")\t" << shown << '\n';
    } else {
      const double pos = p(row, 0);
      std::cout << fixed(pos, 4) << '\t' << (pos >= 0.5 ? "positive" : "negative") << '\t' << shown << '\n';
    }
  }
  return 0;
}

int run_train(const TrainArgs& a) {
  namespace fs = std::filesystem;
  namespace text = seqnet::text;
  const bool rating = a.task == "rating";
  if (!rating && a.task != "sentiment")
    throw seqnet::InvalidArgument("unknown task '" + a.task + "' (expected sentiment or rating)");
  chapter::ModelSpec spec = a.spec;
  spec.classes = rating ? 8 : 1;
  if (a.epochs <= 0) throw seqnet::InvalidArgument("--epochs must be positive, got " + std::to_string(a.epochs));
  if (a.batch_size <= 0)
    throw seqnet::InvalidArgument("--batch-size must be positive, got " + std::to_string(a.batch_size));
  if (!(a.lr >= 0) || !std::isfinite(a.lr))
    throw seqnet::InvalidArgument("--lr must be positive (or 0 for the optimizer's default), got " +
                                  std::to_string(a.lr));
  make_optimizer(a.optimizer, a.lr);  // an unknown optimizer is refused before the data is read

  auto model = chapter::make_model<Real>(spec, a.seed, a.threads);
  std::cout << chapter::describe(spec.name) << "\n" << model.summary() << std::flush;
  if (a.summary_only) return 0;

  std::string dir = a.data.empty() ? text::imdb_dir_from_env() : a.data;
  if (dir.empty())
    throw seqnet::InvalidArgument("no data folder: pass --data DIR or set SEQNET_IMDB_DIR to the aclImdb folder");
  const auto t_read = std::chrono::steady_clock::now();
  const auto train = text::read_imdb(dir, text::ImdbSubset::Train);
  const auto test = text::read_imdb(dir, text::ImdbSubset::Test);

  // Vocabulary from the training reviews only, Keras' IMDB conventions (0 pad, 1 start, 2 OOV, words from 3).
  text::VocabularyOptions vo;
  vo.num_words = spec.num_words;
  const auto vocab = text::Vocabulary::build(train.texts, vo);
  const auto train_ids = vocab.encode_all(train.texts);
  const auto test_ids = vocab.encode_all(test.texts);
  const double read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_read).count();

  seqnet::Rng split_rng(a.seed);
  auto split = text::train_validation_split(static_cast<Index>(train.size()), split_rng);
  // The chapter's length facts are over all the training reviews of the split, before --max-train cuts it.
  const auto stats = text::length_stats(text::take(train_ids, split.train));
  if (a.max_train > 0) {
    if (static_cast<std::size_t>(a.max_train) < split.train.size())
      split.train.resize(static_cast<std::size_t>(a.max_train));
    const auto max_val = static_cast<std::size_t>(std::max<Index>(a.max_train / 4, 1));
    if (max_val < split.validation.size()) split.validation.resize(max_val);
  }
  const auto train_seqs = text::take(train_ids, split.train);
  const auto val_seqs = text::take(train_ids, split.validation);

  std::cout << "\nData: " << train.size() << " training reviews (" << split.train.size() << " train / "
            << split.validation.size() << " validation), " << test.size()
            << " test reviews; read, tokenized and encoded in " << fixed(read_seconds, 1) << " s\n"
            << "Review length over the training reviews: mean " << fixed(stats.mean, 1) << ", median "
            << fixed(stats.median, 1) << " tokens\n";

  text::PadOptions pad;
  pad.maxlen = spec.maxlen;
  const auto x_train = text::pad_sequences(train_seqs, pad).cast<Real>();
  const auto x_val = text::pad_sequences(val_seqs, pad).cast<Real>();
  const auto x_test = text::pad_sequences(test_ids, pad).cast<Real>();
  const auto y_train = labels_for(train, split.train, rating);
  const auto y_val = labels_for(train, split.validation, rating);
  std::vector<Index> all_test(test.size());
  for (std::size_t i = 0; i < all_test.size(); ++i) all_test[i] = static_cast<Index>(i);
  const auto y_test = labels_for(test, all_test, rating);
  // One padded sample, as the chapter prints it: a review shorter than maxlen, so the padding shows.
  Index shown = 0;
  for (Index i = 0; i < x_train.dim(0); ++i)
    if (static_cast<Index>(train_seqs[static_cast<std::size_t>(i)].size()) < spec.maxlen) {
      shown = i;
      break;
    }
  std::cout << "Padded sample " << shown << " (maxlen " << spec.maxlen << ", padding and truncating 'pre', "
            << train_seqs[static_cast<std::size_t>(shown)].size() << " ids before padding):\n[";
  for (Index j = 0; j < spec.maxlen; ++j) std::cout << (j ? " " : "") << x_train(shown, j);
  std::cout << "]\n";

  fs::create_directories(a.out);
  const std::string best_path = (fs::path(a.out) / "best_model.seqnet").string();
  const auto opt = make_optimizer(a.optimizer, a.lr);
  const auto loss = rating ? seqnet::LossKind::SparseCategoricalCrossentropy : seqnet::LossKind::BinaryCrossentropy;
  const auto metric = rating ? seqnet::Metric::SparseCategoricalAccuracy : seqnet::Metric::BinaryAccuracy;
  model.compile(loss, *opt, {metric});

  seqnet::ModelCheckpointOptions ck;
  ck.path = best_path;
  ck.monitor = "val_loss";
  ck.save_best_only = true;
  ck.extras.set("vocabulary", vocab.serialize());
  seqnet::ModelCheckpoint<Real> checkpoint(ck);
  seqnet::EarlyStoppingOptions es;
  es.monitor = "val_loss";
  es.patience = a.patience;
  es.restore_best_weights = true;
  seqnet::EarlyStopping<Real> early(es);

  seqnet::FitOptions<Real> fo;
  fo.epochs = a.epochs;
  fo.batch_size = a.batch_size;
  fo.validation_x = &x_val;
  fo.validation_y = &y_val;
  fo.verbose = a.quiet ? seqnet::Verbosity::Silent : seqnet::Verbosity::ProgressBar;
  std::cout << "\nTraining " << spec.name << " with " << a.optimizer << " on " << a.threads << " thread(s)\n";
  const auto t_fit = std::chrono::steady_clock::now();
  const auto history = model.fit(x_train, y_train, fo, {&checkpoint, &early});
  const double fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_fit).count();
  if (history.reason == seqnet::StopReason::NonFiniteLoss || history.reason == seqnet::StopReason::NonFiniteWeights)
    std::cout << "Training stopped: " << history.stop_reason << "\n";
  if (history.epochs.empty()) throw seqnet::NumericError("no epoch finished: " + history.stop_reason);

  const std::string metric_name = "accuracy";
  const auto val_loss = history.series("val_loss");
  const auto best_it = std::min_element(val_loss.begin(), val_loss.end());
  const auto best_epoch = static_cast<std::size_t>(best_it - val_loss.begin());
  const double best_val_acc = history.epochs[best_epoch].get("val_" + metric_name);

  // The best model, as saved by the checkpoint (early stopping also restored it in memory).
  seqnet::Sequential<Real> best = seqnet::load_model<Real>(best_path);
  best.set_threads(a.threads);
  best.compile(loss, *opt, {metric});
  const auto test_result = best.evaluate(x_test, y_test);
  double mae = 0;
  if (rating) {
    const auto p = best.predict(x_test);
    for (Index i = 0; i < p.dim(0); ++i) {
      Index c = 0;
      for (Index k = 1; k < p.dim(1); ++k)
        if (p(i, k) > p(i, c)) c = k;
      mae += std::abs(class_to_rating(c) - test.ratings[static_cast<std::size_t>(i)]);
    }
    mae /= static_cast<double>(p.dim(0));
  }

  write_history_csv((fs::path(a.out) / "history.csv").string(), history, metric_name);
  seqnet::write_plot_svg(
      (fs::path(a.out) / "curves.svg").string(),
      {seqnet::PlotChart{spec.name + ": loss", "loss", {{"train", history.series("loss")}, {"validation", val_loss}}},
       seqnet::PlotChart{
           spec.name + ": accuracy",
           "accuracy",
           {{"train", history.series(metric_name)}, {"validation", history.series("val_" + metric_name)}}}});
  double samples = 0;
  for (std::size_t e = 0; e < history.epochs.size(); ++e) samples += static_cast<double>(split.train.size());
  {
    std::ofstream j((fs::path(a.out) / "metrics.json").string());
    j << "{\n  \"model\": \"" << spec.name << "\",\n  \"task\": \"" << a.task << "\",\n  \"optimizer\": \""
      << a.optimizer << "\",\n  \"best_epoch\": " << best_epoch + 1
      << ",\n  \"stopped_epoch\": " << history.epochs.size() << ",\n  \"best_val_loss\": " << *best_it
      << ",\n  \"best_val_accuracy\": " << best_val_acc << ",\n  \"test_loss\": " << test_result.loss
      << ",\n  \"test_accuracy\": " << test_result.get(metric_name);
    if (rating) j << ",\n  \"test_mae_stars\": " << mae;
    j << ",\n  \"train_seconds\": " << fit_seconds << ",\n  \"train_samples_per_second\": " << samples / fit_seconds
      << ",\n  \"threads\": " << a.threads << ",\n  \"seed\": " << a.seed << "\n}\n";
    if (!j) throw seqnet::IoError("writing metrics.json into '" + a.out + "' failed");
  }
  std::cout << "\nBest epoch " << best_epoch + 1 << " of " << history.epochs.size() << ": val_loss " << fixed(*best_it)
            << ", val_accuracy " << fixed(best_val_acc) << "\nTest (best model): loss " << fixed(test_result.loss)
            << ", accuracy " << fixed(test_result.get(metric_name));
  if (rating) std::cout << ", mean absolute error " << fixed(mae, 2) << " stars";
  std::cout << "\nTraining took " << fixed(fit_seconds, 1) << " s (" << fixed(samples / fit_seconds, 0)
            << " samples/s). Wrote " << a.out << "/{best_model.seqnet, history.csv, curves.svg, metrics.json}\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sentiment of IMDB reviews with recurrent networks (the chapter's experiments)"};
  TrainArgs t;
  app.add_option("--data", t.data, "aclImdb folder (default: $SEQNET_IMDB_DIR)");
  app.add_option("--model", t.spec.name, "onehot-rnn | emb-rnn | lstm | lstm-dropout | lstm-2layer | gru")
      ->capture_default_str();
  app.add_option("--task", t.task, "sentiment (positive/negative) or rating (8 star classes)")->capture_default_str();
  app.add_option("--num-words", t.spec.num_words, "vocabulary size (ids >= N become out-of-vocabulary)")
      ->capture_default_str()
      ->check(CLI::Range(Index{4}, Index{1} << 24));
  app.add_option("--maxlen", t.spec.maxlen, "review length after padding/cutting")
      ->capture_default_str()
      ->check(CLI::Range(Index{1}, Index{100000}));
  app.add_option("--embed-dim", t.spec.embed_dim, "embedding size")
      ->capture_default_str()
      ->check(CLI::Range(Index{1}, Index{100000}));
  app.add_option("--units", t.spec.units, "recurrent units")
      ->capture_default_str()
      ->check(CLI::Range(Index{1}, Index{100000}));
  app.add_option("--dropout", t.spec.dropout, "dropout of lstm-dropout / lstm-2layer")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--optimizer", t.optimizer, "rmsprop | adam | sgd")->capture_default_str();
  app.add_option("--lr", t.lr, "learning rate (default: rmsprop 1e-4, adam 1e-3, sgd 1e-2)");
  app.add_option("--batch-size", t.batch_size, "batch size")->capture_default_str();
  app.add_option("--epochs", t.epochs, "maximum epochs")->capture_default_str();
  app.add_option("--patience", t.patience, "early-stopping patience on val_loss")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  app.add_option("--seed", t.seed, "seed of initialisation, split, shuffling and dropout")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& v) {
            return v.find('-') == std::string::npos ? std::string() : "must not be negative, got " + v;
          },
          "NONNEGATIVE"));
  app.add_option("--threads", t.threads, "threads")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--max-train", t.max_train, "use at most N training reviews (quick runs)")
      ->check(CLI::Range(Index{0}, Index{1} << 40));
  app.add_option("--out", t.out, "output folder")->capture_default_str();
  app.add_flag("--summary-only", t.summary_only, "print the model summary and exit");
  app.add_flag("--quiet", t.quiet, "no progress bar");

  PredictArgs p;
  CLI::App* predict = app.add_subcommand("predict", "score raw text with a saved model");
  predict->add_option("--model-file", p.model_file, "model file written by training")->required();
  predict->add_option("texts", p.texts, "texts to score (default: one per line from standard input)");
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    // One line, like every other error of this program (CLI11's own report adds a second line).
    std::cerr << "imdb_sentiment: error: " << e.what() << " (see --help)\n";
    return e.get_exit_code();
  }
  try {
    return predict->parsed() ? run_predict(p) : run_train(t);
  } catch (const std::exception& e) {
    std::cerr << "imdb_sentiment: error: " << e.what() << '\n';
    return 1;
  }
}
