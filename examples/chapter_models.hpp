#pragma once
// The chapter's six models (M1 to M6) as seqnet Sequential models, with the chapter's defaults.
// Used by the IMDB example and the benchmark.

#include <seqnet/seqnet.hpp>

#include <string>
#include <vector>

namespace chapter {

struct ModelSpec {
  std::string name = "lstm";  // onehot-rnn | emb-rnn | lstm | lstm-dropout | lstm-2layer | gru
  seqnet::Index num_words = 500;
  seqnet::Index maxlen = 100;
  seqnet::Index embed_dim = 16;
  seqnet::Index units = 8;
  double dropout = 0.3;       // for lstm-dropout and lstm-2layer
  seqnet::Index classes = 1;  // 1: Dense(1, sigmoid); more: Dense(classes, softmax)
};

inline const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names{"onehot-rnn", "emb-rnn", "lstm", "lstm-dropout", "lstm-2layer", "gru"};
  return names;
}

/// What each model is, in the chapter's words.
inline std::string describe(const std::string& name) {
  if (name == "onehot-rnn") return "M1: one-hot -> SimpleRNN -> Dense";
  if (name == "emb-rnn") return "M2: Embedding -> SimpleRNN -> Dense";
  if (name == "lstm") return "M3: Embedding -> LSTM -> Dense";
  if (name == "lstm-dropout") return "M4: Embedding -> LSTM(dropout) -> Dense";
  if (name == "lstm-2layer") return "M5: Embedding -> LSTM(dropout, return_sequences) -> LSTM(dropout) -> Dense";
  if (name == "gru") return "M6: Embedding -> GRU -> Dense";
  return "";
}

/// The input shape the model is built for: ids, or ids read as one-hot vectors for M1.
inline seqnet::Shape input_shape(const ModelSpec& spec) {
  return spec.name == "onehot-rnn" ? seqnet::Shape::one_hot(spec.maxlen, spec.num_words)
                                   : seqnet::Shape::ids(spec.maxlen);
}

/// Builds (but does not compile) the model `spec.name`; throws seqnet::InvalidArgument for an unknown name.
template <typename T>
seqnet::Sequential<T> make_model(const ModelSpec& spec, std::uint64_t seed, int threads) {
  using namespace seqnet;
  const std::string& n = spec.name;
  bool known = false;
  for (const auto& k : model_names()) known = known || k == n;
  if (!known) {
    std::string list;
    for (const auto& k : model_names()) list += (list.empty() ? "" : ", ") + k;
    throw InvalidArgument("unknown model '" + n + "' (expected one of: " + list + ")");
  }
  Sequential<T> model(SequentialOptions{seed, threads, "sequential"});
  if (n != "onehot-rnn") model.add(Embedding<T>(spec.num_words, spec.embed_dim));
  if (n == "onehot-rnn" || n == "emb-rnn") {
    model.add(SimpleRNN<T>(spec.units));
  } else if (n == "lstm") {
    model.add(LSTM<T>(spec.units));
  } else if (n == "lstm-dropout") {
    LSTMOptions o;
    o.dropout = spec.dropout;
    model.add(LSTM<T>(spec.units, o));
  } else if (n == "lstm-2layer") {
    LSTMOptions first;
    first.dropout = spec.dropout;
    first.return_sequences = true;
    LSTMOptions second;
    second.dropout = spec.dropout;
    model.add(LSTM<T>(spec.units, first));
    model.add(LSTM<T>(spec.units, second));
  } else if (n == "gru") {
    model.add(GRU<T>(spec.units));
  }
  if (spec.classes <= 1)
    model.add(Dense<T>(1, Activation::Sigmoid));
  else
    model.add(Dense<T>(spec.classes, Activation::Softmax));
  model.build(input_shape(spec));
  return model;
}

}  // namespace chapter
