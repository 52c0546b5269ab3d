// A program outside seqnet that uses it as a dependency: builds a tiny model and checks its output.
#include <seqnet/seqnet.hpp>

#include <cstdio>

int main() {
  seqnet::Dense<float> dense(2, seqnet::Activation::Softmax);
  dense.build(seqnet::Shape::vector(3));
  seqnet::Rng rng(1);
  dense.initialize(rng);
  seqnet::SeqBatch<float> x;
  x.batch = 1;
  x.shape = seqnet::Shape::vector(3);
  x.values = seqnet::Matrix<float>::Ones(1, 3);
  const auto& y = dense.forward(x, seqnet::Mode::Eval);
  const float sum = y.values.sum();
  std::printf("softmax sum %.6f\n", static_cast<double>(sum));
  return (sum > 0.999f && sum < 1.001f) ? 0 : 1;
}
