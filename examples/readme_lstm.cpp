// The README's complete program (tests/readme_matches.cmake keeps the two identical).
#include <seqnet/seqnet.hpp>

#include <iostream>

int main() {
  namespace text = seqnet::text;
  const std::string dir = text::imdb_dir_from_env();  // the aclImdb folder
  const auto train = text::read_imdb(dir, text::ImdbSubset::Train);
  const auto test = text::read_imdb(dir, text::ImdbSubset::Test);

  text::VocabularyOptions vo;
  vo.num_words = 500;  // 0 pad, 1 start, 2 out-of-vocabulary, words from 3
  const auto vocab = text::Vocabulary::build(train.texts, vo);
  text::PadOptions pad;
  pad.maxlen = 100;  // pad and cut at the front, as Keras
  const auto x = text::pad_sequences(vocab.encode_all(train.texts), pad).cast<float>();
  const auto x_test = text::pad_sequences(vocab.encode_all(test.texts), pad).cast<float>();
  seqnet::Tensor<float> y({x.dim(0)}), y_test({x_test.dim(0)});
  for (seqnet::Index i = 0; i < x.dim(0); ++i) y(i) = static_cast<float>(train.labels[i]);
  for (seqnet::Index i = 0; i < x_test.dim(0); ++i) y_test(i) = static_cast<float>(test.labels[i]);

  seqnet::Sequential<float> model(seqnet::SequentialOptions{/*seed=*/42, /*threads=*/2});
  model.add(seqnet::Embedding<float>(500, 16));
  model.add(seqnet::LSTM<float>(8));
  model.add(seqnet::Dense<float>(1, seqnet::Activation::Sigmoid));
  model.build(seqnet::Shape::ids(100));
  std::cout << model.summary();  // Total params: 8,809

  seqnet::RMSpropOptions ro;
  ro.learning_rate = 1e-4;
  model.compile(seqnet::LossKind::BinaryCrossentropy, seqnet::RMSprop<float>(ro), {seqnet::Metric::BinaryAccuracy});

  seqnet::ModelCheckpointOptions ck;
  ck.path = "best-lstm.seqnet";
  ck.extras.set("vocabulary", vocab.serialize());  // so the file can score raw text later
  seqnet::ModelCheckpoint<float> checkpoint(ck);
  seqnet::EarlyStoppingOptions es;
  es.patience = 3;
  es.restore_best_weights = true;
  seqnet::EarlyStopping<float> early(es);

  seqnet::FitOptions<float> fo;
  fo.epochs = 100;
  fo.batch_size = 64;
  fo.validation_split = 0.2;
  const auto history = model.fit(x, y, fo, {&checkpoint, &early});
  const auto result = model.evaluate(x_test, y_test);
  std::cout << "test loss " << result.loss << ", accuracy " << result.get("accuracy") << "\n";
}
