#!/usr/bin/env python3
"""Where a seqnet training step's time goes at 1 and 2 threads: runs seqnet_bench several times per
configuration (1 thread at the full batch, 1 thread at half the batch, 2 threads at the full batch, in turn)
and prints the medians of its step-timing fields (Sequential::step_timing) as a Markdown table; "shared us"
is the part of the slices phase spent on the products over a batch's distinct ids that the threads share.

Usage:
  bench/step_phases.py --bench-binary build-bench/bench/seqnet_bench --configs emb_rnn,emb_lstm --runs 5
"""
import argparse
import statistics
import sys

from ab import run  # the same seqnet_bench invocation as bench/ab.py


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench-binary", default="build-bench/bench/seqnet_bench")
    p.add_argument("--configs", default="onehot_rnn,emb_rnn,emb_lstm,emb_lstm2,emb_gru")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--runs", type=int, default=5, help="runs of each setting (medians are printed)")
    p.add_argument("--seconds", type=float, default=1.0)
    a = p.parse_args(argv)
    half = a.batch // 2
    settings = [(1, a.batch), (1, half), (2, a.batch)]
    print("| config | threads | batch | samples/s | step us | slices us | shared us | update us | imbalance us "
          "| busy us per thread |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for config in a.configs.split(","):
        got = {s: [] for s in settings}
        for _ in range(a.runs):
            for threads, batch in settings:
                got[(threads, batch)].append(
                    run(a.bench_binary, config, threads, a.seconds, "train", extra=("--batch", str(batch))))
        for (threads, batch), lines in got.items():
            med = lambda key: statistics.median(line[key] for line in lines)
            busy = ", ".join(f"{statistics.median(line['train_thread_busy_us'][k] for line in lines):.1f}"
                             for k in range(threads))
            rate = med("train_samples_per_s")
            print(f"| {config} | {threads} | {batch} | {rate:,.0f} | {1e6 * batch / rate:.1f} "
                  f"| {med('train_slices_us'):.1f} | {med('train_shared_us'):.1f} | {med('train_update_us'):.1f} "
                  f"| {med('train_imbalance_us'):.1f} | {busy} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
