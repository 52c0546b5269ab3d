#!/usr/bin/env python3
"""PyTorch counterpart of seqnet_bench: trains and runs one benchmark configuration and prints ONE JSON line.

    /usr/bin/python3 bench/torch_bench.py --config emb_lstm --threads 1 --seconds 5

The configurations, shapes, batch sizes and optimizers are those of seqnet_bench (bench/README.md):

    onehot_rnn  one-hot(500) -> SimpleRNN(8) -> Dense(1)                 T=100  RMSprop(1e-4)
    emb_rnn     Embedding(500,16) -> SimpleRNN(8) -> Dense(1)            T=100  RMSprop(1e-4)
    emb_lstm    Embedding(500,16) -> LSTM(8) -> Dense(1)                 T=100  RMSprop(1e-4)
    emb_lstm2   Embedding(500,16) -> LSTM(8, dropout .3, seq) -> LSTM(8, dropout .3) -> Dense(1)
                                                                          T=100  RMSprop(1e-4)
    emb_gru     Embedding(500,16) -> GRU(8) -> Dense(1)                  T=100  RMSprop(1e-4)
    big_lstm    Embedding(10000,128) -> LSTM(128) -> Dense(1)            T=200  Adam(1e-3)
    big_bilstm  Embedding(20000,128) -> Bidirectional(LSTM(128)) -> Dense(1)  T=400  Adam(1e-3)

Differences from Keras that cannot be removed in PyTorch, and do not change the amount of work much:
  - Keras' LSTM(dropout=0.3) draws one input mask per sequence and reuses it at every step; PyTorch has no
    such option, so emb_lstm2 applies nn.Dropout(0.3) to each LSTM's input sequence (one mask per element).
  - PyTorch's GRU is Keras' GRU(reset_after=True) (two bias vectors), which is what seqnet implements.
  - RMSprop: Keras divides by sqrt(ms + eps), PyTorch by sqrt(ms) + eps; eps is 1e-7 in both.
The loss is binary cross-entropy on the logits of the last Dense layer (BCEWithLogitsLoss), the fused path
that Keras and seqnet take for Dense(1, sigmoid) + binary cross-entropy. Inference applies the sigmoid.
"""

import argparse
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# name: (kind, vocabulary, embedding dim, units, steps, optimizer)
CONFIGS = {
    "onehot_rnn": ("onehot_rnn", 500, 0, 8, 100, "rmsprop"),
    "emb_rnn": ("rnn", 500, 16, 8, 100, "rmsprop"),
    "emb_lstm": ("lstm", 500, 16, 8, 100, "rmsprop"),
    "emb_lstm2": ("lstm2", 500, 16, 8, 100, "rmsprop"),
    "emb_gru": ("gru", 500, 16, 8, 100, "rmsprop"),
    "big_lstm": ("lstm", 10000, 128, 128, 200, "adam"),
    "big_bilstm": ("bilstm", 20000, 128, 128, 400, "adam"),
}

DATA_BATCHES = 8  # distinct synthetic batches, cycled


class Net(nn.Module):
    def __init__(self, kind, vocab, emb, units):
        super().__init__()
        self.kind = kind
        self.vocab = vocab
        if kind == "onehot_rnn":
            self.embedding = None
            self.rnn = nn.RNN(vocab, units, nonlinearity="tanh", batch_first=True)
            out_features = units
        else:
            self.embedding = nn.Embedding(vocab, emb)
            if kind == "rnn":
                self.rnn = nn.RNN(emb, units, nonlinearity="tanh", batch_first=True)
                out_features = units
            elif kind in ("lstm", "lstm2"):
                self.rnn = nn.LSTM(emb, units, batch_first=True)
                out_features = units
            elif kind == "gru":
                self.rnn = nn.GRU(emb, units, batch_first=True)
                out_features = units
            elif kind == "bilstm":
                self.rnn = nn.LSTM(emb, units, batch_first=True, bidirectional=True)
                out_features = 2 * units
            else:
                raise ValueError(kind)
        if kind == "lstm2":
            self.drop1 = nn.Dropout(0.3)
            self.drop2 = nn.Dropout(0.3)
            self.rnn2 = nn.LSTM(units, units, batch_first=True)
        self.dense = nn.Linear(out_features, 1)

    def forward(self, ids):
        if self.kind == "onehot_rnn":
            x = F.one_hot(ids, self.vocab).float()  # built per batch, as the Keras model is fed
        else:
            x = self.embedding(ids)
        if self.kind == "lstm2":
            seq, _ = self.rnn(self.drop1(x))
            _, (h, _) = self.rnn2(self.drop2(seq))
            last = h[-1]
        elif self.kind == "bilstm":
            _, (h, _) = self.rnn(x)
            last = torch.cat([h[0], h[1]], dim=1)  # forward final state, backward final state (Keras concat)
        elif self.kind in ("lstm",):
            _, (h, _) = self.rnn(x)
            last = h[-1]
        else:
            _, h = self.rnn(x)
            last = h[-1]
        return self.dense(last).squeeze(1)  # logits


def rss_now_mb():
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / (1024.0 * 1024.0)
    except OSError:
        return 0.0


def blas_library():
    """The BLAS shared library this process mapped (PyTorch's Debian build calls the system libblas.so.3)."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({ln.split()[-1] for ln in f if "blas" in ln.split()[-1].rsplit("/", 1)[-1]})
        return ", ".join(libs) or "none"
    except OSError:
        return "unknown"


def timed_loop(step, batch, seconds, warmup):
    for i in range(warmup):
        step(i)
    n = 0
    start = time.perf_counter()
    while True:
        step(n)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return n * batch / elapsed, n


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, choices=sorted(CONFIGS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5.0, help="time budget of each phase (train, infer)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before each phase")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)
    if a.threads < 1 or a.batch < 1 or a.infer_batch < 1 or a.seconds <= 0:
        p.error("--threads, --batch, --infer-batch must be >= 1 and --seconds > 0")

    start_rss = rss_now_mb()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    kind, vocab, emb, units, steps, opt_name = CONFIGS[a.config]
    model = Net(kind, vocab, emb, units)

    if opt_name == "rmsprop":
        opt = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.9, eps=1e-7)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = nn.BCEWithLogitsLoss()

    g = torch.Generator().manual_seed(a.seed)
    train_x = [torch.randint(0, vocab, (a.batch, steps), generator=g) for _ in range(DATA_BATCHES)]
    train_y = [torch.randint(0, 2, (a.batch,), generator=g).float() for _ in range(DATA_BATCHES)]
    infer_x = [torch.randint(0, vocab, (a.infer_batch, steps), generator=g) for _ in range(DATA_BATCHES)]

    model.train()

    def train_step(i):
        k = i % DATA_BATCHES
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(train_x[k]), train_y[k])
        loss.backward()
        opt.step()

    train_rate, train_steps = timed_loop(train_step, a.batch, a.seconds, a.warmup)

    model.eval()
    sink = [0.0]

    def infer_step(i):
        with torch.no_grad():
            probs = torch.sigmoid(model(infer_x[i % DATA_BATCHES]))
        sink[0] += float(probs[0])

    infer_rate, infer_steps = timed_loop(infer_step, a.infer_batch, a.seconds, a.warmup)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux
    print(json.dumps({
        "framework": "pytorch",
        "version": torch.__version__,
        "config": a.config,
        "threads": a.threads,
        "batch": a.batch,
        "infer_batch": a.infer_batch,
        "steps": steps,
        "train_samples_per_s": round(train_rate, 3),
        "infer_samples_per_s": round(infer_rate, 3),
        "train_batches": train_steps,
        "infer_batches": infer_steps,
        "peak_rss_mb": round(peak_mb, 1),
        "start_rss_mb": round(start_rss, 1),
        "blas": blas_library(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
