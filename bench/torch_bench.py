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

Two settings give PyTorch the speed a user who knows the machine gets (bench/README.md, "PyTorch's
settings"); the JSON line reports both:
  - OpenBLAS picks its kernels by the CPU's model number. A CPU newer than the OpenBLAS release (Debian 12's
    0.3.21 does not know Intel's Xeons of 2023 and later) gets its generic Prescott (SSE3) kernels, a fraction
    of the speed of its AVX-512 ones (bench/README.md). When the CPU has AVX2 or AVX-512 and
    OpenBLAS chose a core without them, this script sets OPENBLAS_CORETYPE (Haswell or SkylakeX) before
    PyTorch loads OpenBLAS. An OPENBLAS_CORETYPE already set is left as it is; --blas-core default keeps
    OpenBLAS's own choice.
  - Denormal numbers are flushed to zero (torch.set_flush_denormal(True)), as TensorFlow (Keras) and seqnet
    do by default; PyTorch's default computes them, which made big_lstm's training an order of magnitude
    slower on an Intel Xeon (bench/README.md). --flush-denormal off keeps PyTorch's default.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

# OpenBLAS core names whose kernels use AVX2 or AVX-512 (OpenBLAS' dynamic.c).
_WIDE_CORES = {"Haswell", "Zen", "Excavator", "SkylakeX", "Cooperlake", "SapphireRapids"}


def openblas_core():
    """The core whose kernels the system's OpenBLAS picks in a new process, or None without OpenBLAS."""
    code = ("import ctypes; l = ctypes.CDLL('libblas.so.3'); l.openblas_get_corename.restype = ctypes.c_char_p; "
            "print(l.openblas_get_corename().decode())")
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return (r.stdout.strip() or None) if r.returncode == 0 else None


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def choose_blas_core(mode):
    """Sets OPENBLAS_CORETYPE when OpenBLAS would run generic kernels on a CPU with AVX2 or AVX-512 (see the
    module comment); returns (the core whose kernels run, the core forced or None)."""
    if mode == "default" or "OPENBLAS_CORETYPE" in os.environ:
        return os.environ.get("OPENBLAS_CORETYPE") or openblas_core(), None
    own = openblas_core()
    if own is None or own in _WIDE_CORES:
        return own, None
    flags = cpu_flags()
    forced = None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"} <= flags:
        forced = "SkylakeX"
    elif {"avx2", "fma"} <= flags:
        forced = "Haswell"
    if forced:
        os.environ["OPENBLAS_CORETYPE"] = forced
    return forced or own, forced


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


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, choices=sorted(CONFIGS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5.0, help="time budget of each phase (train, infer)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before each phase")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--flush-denormal", choices=["on", "off"], default="on",
                   help="torch.set_flush_denormal (default on, as TensorFlow and seqnet; off: PyTorch's default)")
    p.add_argument("--blas-core", choices=["auto", "default"], default="auto",
                   help="auto: OPENBLAS_CORETYPE for the CPU's AVX2/AVX-512 when OpenBLAS would pick generic "
                        "kernels (read before PyTorch loads); default: OpenBLAS's own choice")
    return p


# The arguments are read before PyTorch loads OpenBLAS, which reads OPENBLAS_CORETYPE once.
if __name__ == "__main__":
    PARSER = build_parser()
    ARGS = PARSER.parse_args()
    if ARGS.threads < 1 or ARGS.batch < 1 or ARGS.infer_batch < 1 or ARGS.seconds <= 0:
        PARSER.error("--threads, --batch, --infer-batch must be >= 1 and --seconds > 0")
    BLAS_CORE = choose_blas_core(ARGS.blas_core)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


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
    """Runs step(i) `warmup` times, then until `seconds` have passed; returns samples/s, the number of calls,
    and the fastest tenth and the median of the single calls' times in microseconds (as seqnet_bench)."""
    for i in range(warmup):
        step(i)
    call_us = []
    start = time.perf_counter()
    while True:
        begin = time.perf_counter()
        step(len(call_us))
        end = time.perf_counter()
        call_us.append((end - begin) * 1e6)
        elapsed = end - start
        if elapsed >= seconds:
            break
    ordered = sorted(call_us)
    n = len(call_us)
    return n * batch / elapsed, n, ordered[n // 10], ordered[n // 2]


def main(a):
    """Trains and runs a.config (arguments of build_parser, already checked) and prints the JSON line."""
    start_rss = rss_now_mb()
    want_flush = a.flush_denormal == "on"
    flush = want_flush and torch.set_flush_denormal(True)  # False where the CPU cannot
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

    train_rate, train_steps, train_p10, train_p50 = timed_loop(train_step, a.batch, a.seconds, a.warmup)

    model.eval()
    sink = [0.0]

    def infer_step(i):
        with torch.no_grad():
            probs = torch.sigmoid(model(infer_x[i % DATA_BATCHES]))
        sink[0] += float(probs[0])

    infer_rate, infer_steps, infer_p10, infer_p50 = timed_loop(infer_step, a.infer_batch, a.seconds, a.warmup)

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
        "train_step_us_p10": round(train_p10, 2),
        "train_step_us_p50": round(train_p50, 2),
        "infer_batch_us_p10": round(infer_p10, 2),
        "infer_batch_us_p50": round(infer_p50, 2),
        "peak_rss_mb": round(peak_mb, 1),
        "start_rss_mb": round(start_rss, 1),
        "blas": blas_library(),
        "blas_core": BLAS_CORE[0],
        "blas_core_forced": BLAS_CORE[1] is not None,
        "flush_denormal": flush,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
