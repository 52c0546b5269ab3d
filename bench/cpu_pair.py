#!/usr/bin/env python3
"""How much of a 2-thread training step's cost is the machine's and how much seqnet's: runs seqnet_bench
on half a batch at 1 thread on each CPU alone, then two such processes at once (one pinned to each CPU),
then the full batch at 2 threads and at 1 thread, in turn, several rounds, and prints the medians of the
samples/s and of the fastest tenth and the median of the step times (seqnet_bench's train_step_us_p10 and
_p50). Two processes share no data and no code path: if they run as fast together as alone, the two CPUs
are independent, and what a 2-thread step costs beyond one of those half-batch steps is the model's own
(the update, the hand-overs, the wait for the later slice). Linux only (pins processes with
os.sched_setaffinity).

Usage:
  bench/cpu_pair.py --bench-binary build-bench/bench/seqnet_bench --configs emb_rnn,emb_lstm --rounds 3
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def start(binary, config, threads, batch, seconds, cpu=None):
    """Starts one seqnet_bench training run (pinned to `cpu` unless None); returns the process."""
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    return subprocess.Popen(
        [binary, "--config", config, "--threads", str(threads), "--batch", str(batch), "--seconds",
         str(seconds), "--phase", "train"], stdout=subprocess.PIPE, text=True, preexec_fn=pin)


def finish(proc):
    out, _ = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"seqnet_bench failed with exit code {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench-binary", default="build-bench/bench/seqnet_bench")
    p.add_argument("--configs", default="onehot_rnn,emb_rnn,emb_lstm,emb_lstm2,emb_gru")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3, help="rounds of all settings (medians are printed)")
    p.add_argument("--seconds", type=float, default=2.0)
    a = p.parse_args(argv)
    if len(os.sched_getaffinity(0)) < 2:
        p.error("needs two CPUs")
    cpus = sorted(os.sched_getaffinity(0))[:2]
    half = a.batch // 2
    names = [f"batch {half} on CPU {cpus[0]}, alone", f"batch {half} on CPU {cpus[1]}, alone",
             f"batch {half} on CPU {cpus[0]}, both at once", f"batch {half} on CPU {cpus[1]}, both at once",
             f"batch {a.batch}, 2 threads", f"batch {a.batch}, 1 thread"]
    print("| config | setting | samples/s | step us, fastest tenth | step us, median |")
    print("|---|---|---:|---:|---:|")
    for config in a.configs.split(","):
        got = {n: [] for n in names}
        for _ in range(a.rounds):
            got[names[0]].append(finish(start(a.bench_binary, config, 1, half, a.seconds, cpus[0])))
            got[names[1]].append(finish(start(a.bench_binary, config, 1, half, a.seconds, cpus[1])))
            pair = [start(a.bench_binary, config, 1, half, a.seconds, c) for c in cpus]
            for name, proc in zip(names[2:4], pair):
                got[name].append(finish(proc))
            got[names[4]].append(finish(start(a.bench_binary, config, 2, a.batch, a.seconds)))
            got[names[5]].append(finish(start(a.bench_binary, config, 1, a.batch, a.seconds)))
        for name in names:
            med = lambda key: statistics.median(line[key] for line in got[name])
            print(f"| {config} | {name} | {med('train_samples_per_s'):,.0f} | {med('train_step_us_p10'):.1f} "
                  f"| {med('train_step_us_p50'):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
