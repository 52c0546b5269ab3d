#!/usr/bin/env python3
"""Before/after throughput of two seqnet_bench binaries, run in turn (A B A B ...) so that a drift of the
machine's speed affects both alike; prints the medians and their ratio as a Markdown table, and the
speed-up of the fastest tenth of steps and of the median step (the medians over the rounds of seqnet_bench's
step-time quantiles): on a shared machine whose host slows a virtual CPU down for seconds at a time, the
samples/s of a round follow those spells, while the fastest tenth of its steps shows the code's own speed.
To compare two library versions with the same benchmark program, build both with the newer
bench/seqnet_bench.cpp (a binary without the quantiles gets "-" there).

Usage:
  git worktree add /tmp/before <commit>
  cmake -S /tmp/before -B /tmp/before/build-bench -DCMAKE_BUILD_TYPE=Release -DSEQNET_NATIVE=ON
  cmake --build /tmp/before/build-bench --target seqnet_bench -j2
  bench/ab.py --before /tmp/before/build-bench/bench/seqnet_bench \\
              --after build-bench/bench/seqnet_bench --configs emb_rnn,emb_gru --threads 1 --rounds 5

--after-env NAME=VALUE (repeatable) sets environment variables for the "after" runs only, to compare one
binary under two environments, e.g. glibc's MALLOC_MMAP_THRESHOLD_:
  bench/ab.py --before build-bench/bench/seqnet_bench --after build-bench/bench/seqnet_bench \\
              --after-env MALLOC_MMAP_THRESHOLD_=1000000000 --configs emb_lstm --threads 2 --rounds 11
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run(binary, config, threads, seconds, phase, env=None, extra=()):
    """One seqnet_bench run (`extra`: more flags, e.g. ("--batch", "32")); returns its JSON line as a dict."""
    out = subprocess.run(
        [binary, "--config", config, "--threads", str(threads), "--seconds", str(seconds), "--phase", phase,
         *extra],
        check=True, capture_output=True, text=True, timeout=60 + 10 * seconds, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", required=True, help="seqnet_bench built from the code before the change")
    p.add_argument("--after", required=True, help="seqnet_bench built from the code after the change")
    p.add_argument("--after-env", action="append", default=[], metavar="NAME=VALUE",
                   help="an environment variable for the 'after' runs only (repeatable)")
    p.add_argument("--configs", required=True, help="comma-separated configuration names")
    p.add_argument("--threads", default="1", help="comma-separated thread counts")
    p.add_argument("--phase", default="both", choices=["train", "infer", "both"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=1.0, help="time budget of each phase of each run")
    p.add_argument("--batch", type=int, help="training batch size (default: the configuration's)")
    a = p.parse_args(argv)
    phases = ["train", "infer"] if a.phase == "both" else [a.phase]
    extra = ("--batch", str(a.batch)) if a.batch else ()
    after_env = dict(os.environ)
    for item in a.after_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            p.error(f"--after-env wants NAME=VALUE, got {item!r}")
        after_env[name] = value
    print("| config | threads | phase | before samples/s | after samples/s | after / before "
          "| speed-up, fastest tenth of steps | speed-up, median step |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    step_key = {"train": "train_step_us", "infer": "infer_batch_us"}
    for config in a.configs.split(","):
        for threads in [int(t) for t in a.threads.split(",")]:
            got = {side: {ph: [] for ph in phases} for side in ("before", "after")}
            steps = {side: {(ph, q): [] for ph in phases for q in ("p10", "p50")} for side in ("before", "after")}
            for _ in range(a.rounds):
                for side, binary, env in (("before", a.before, None), ("after", a.after, after_env)):
                    line = run(binary, config, threads, a.seconds, a.phase, env, extra)
                    for ph in phases:
                        got[side][ph].append(line[ph + "_samples_per_s"])
                        for q in ("p10", "p50"):
                            key = f"{step_key[ph]}_{q}"
                            if key in line:  # printed by seqnet_bench since the step quantiles were added
                                steps[side][(ph, q)].append(line[key])
            for ph in phases:
                b = statistics.median(got["before"][ph])
                f = statistics.median(got["after"][ph])
                speedups = []
                for q in ("p10", "p50"):
                    tb, ta = steps["before"][(ph, q)], steps["after"][(ph, q)]
                    speedups.append(f"{statistics.median(tb) / statistics.median(ta):.3f}" if tb and ta else "-")
                print(f"| {config} | {threads} | {ph} | {b:,.0f} | {f:,.0f} | {f / b:.2f} | {speedups[0]} "
                      f"| {speedups[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
