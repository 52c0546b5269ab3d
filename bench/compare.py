#!/usr/bin/env python3
"""Runs seqnet_bench and bench/torch_bench.py alternately and prints a Markdown table of medians and ratios.

    /usr/bin/python3 bench/compare.py --bench-binary build-bench/bench/seqnet_bench --out table.md

For every configuration, each round runs seqnet then PyTorch (A B A B ...) at each thread count in turn, so
slow drifts of a shared machine hit both frameworks, and the 1- and 2-thread runs of the thread-scaling
ratios, alike; the table holds the median of the rounds. It also runs
`seqnet_bench --gemm` once per thread count for Eigen's SGEMM rate and the measured FMA peak, and reports the
GFLOP/s achieved by the large LSTM configurations and which targets of the performance issue are met.
Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ALL_CONFIGS = ["onehot_rnn", "emb_rnn", "emb_lstm", "emb_lstm2", "emb_gru", "big_lstm", "big_bilstm"]
CHAPTER = ["onehot_rnn", "emb_rnn", "emb_lstm", "emb_lstm2", "emb_gru"]
BIG = ["big_lstm", "big_bilstm"]

# Large configurations: (steps T, input features D, units H, directions). Training FLOPs per sample are
# counted analytically as 3x the forward multiply-adds of the LSTM:
#   forward  = T * dirs * 2 * (D*4H + H*4H)       (input projection + recurrent product, per step)
#   backward ~ 2 * forward                         (dG W^T for dX and dh, plus X^T dG / h^T dG for weights)
# The gates, the embedding, the Dense layer and the optimizer step are left out (well under 1%).
FLOP_SHAPES = {"big_lstm": (200, 128, 128, 1), "big_bilstm": (400, 128, 128, 2)}

# The performance issue's nominal fp32 peak: 2 FMA units x 16 lanes x 2 flops x 4.3 GHz per core.
NOMINAL_PEAK_PER_CORE = 2 * 16 * 2 * 4.3


def train_flops_per_sample(config):
    t, d, h, dirs = FLOP_SHAPES[config]
    forward = t * dirs * 2.0 * (d * 4 * h + h * 4 * h)
    return 3.0 * forward


def run_json(cmd, timeout):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %ds" % timeout
    except OSError as e:
        return None, str(e)
    lines = [ln for ln in p.stdout.splitlines() if ln.strip().startswith("{")]
    if p.returncode != 0 or not lines:
        err = (p.stderr.strip().splitlines() or ["exit code %d" % p.returncode])[0]
        return None, err
    try:
        return json.loads(lines[-1]), None
    except ValueError as e:
        return None, "bad JSON: %s" % e


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=None):
    if v is None:
        return "n/a"
    if digits is None:
        digits = 0 if abs(v) >= 100 else (1 if abs(v) >= 10 else 2)
    return "{:,.{d}f}".format(v, d=digits)


def ratio(a, b):
    return a / b if a is not None and b else None


def lscpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return platform.processor() or "unknown"


def main(argv):
    p = argparse.ArgumentParser(description="seqnet vs PyTorch, side by side")
    p.add_argument("--configs", default=",".join(ALL_CONFIGS), help="comma-separated configuration names")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="time budget of each phase of each run")
    p.add_argument("--out", help="also write the Markdown report to this file")
    p.add_argument("--raw", help="write every run's JSON line to this file (JSON list)")
    p.add_argument("--bench-binary", default=os.path.join(HERE, "..", "build-bench", "bench", "seqnet_bench"))
    p.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch for torch_bench.py")
    p.add_argument("--no-gemm", action="store_true", help="skip the Eigen GEMM reference runs")
    a = p.parse_args(argv)

    configs = [c for c in a.configs.split(",") if c]
    for c in configs:
        if c not in ALL_CONFIGS:
            p.error("unknown configuration '%s' (known: %s)" % (c, ", ".join(ALL_CONFIGS)))
    threads = [int(t) for t in a.threads.split(",") if t]
    if not threads or min(threads) < 1 or a.rounds < 1 or a.seconds <= 0:
        p.error("--threads must list positive integers, --rounds >= 1, --seconds > 0")
    binary = os.path.abspath(a.bench_binary)
    if not os.access(binary, os.X_OK):
        p.error("seqnet_bench not found at %s (build it, or pass --bench-binary)" % binary)
    torch_script = os.path.join(HERE, "torch_bench.py")
    timeout = int(60 + 20 * a.seconds)
    sec = "%g" % a.seconds

    raw = []
    results = {}  # (framework, config, threads) -> list of dicts
    errors = {}
    for c in configs:
        for r in range(a.rounds):
            for t in threads:
                # One warm-up step is enough for the large models (a step takes about a second there).
                common = ["--config", c, "--threads", str(t), "--seconds", sec, "--warmup", "1" if c in BIG else "3"]
                for fw, cmd in (("seqnet", [binary] + common), ("pytorch", [a.python, torch_script] + common)):
                    sys.stderr.write("[%s] %s threads=%d round %d/%d ... " % (fw, c, t, r + 1, a.rounds))
                    sys.stderr.flush()
                    res, err = run_json(cmd, timeout)
                    if res is None:
                        errors[(fw, c, t)] = err
                        sys.stderr.write("FAILED: %s\n" % err)
                        continue
                    sys.stderr.write("train %.1f/s infer %.1f/s\n" % (res["train_samples_per_s"], res["infer_samples_per_s"]))
                    raw.append(res)
                    results.setdefault((fw, c, t), []).append(res)

    gemm = {}
    if not a.no_gemm:
        for t in threads:
            sys.stderr.write("[eigen] gemm threads=%d ... " % t)
            res, err = run_json([binary, "--gemm", "--threads", str(t), "--seconds", "%g" % min(a.seconds, 2.0)], timeout)
            if res is None:
                sys.stderr.write("FAILED: %s\n" % err)
                continue
            sys.stderr.write("%.1f GFLOP/s\n" % res["gemm_1024_gflops"])
            gemm[t] = res
            raw.append(res)

    def med(fw, c, t, key):
        return median([r.get(key) for r in results.get((fw, c, t), [])])

    first_torch = next((r for r in raw if r.get("framework") == "pytorch"), {})
    torch_version = first_torch.get("version", "n/a")
    torch_settings = "OpenBLAS core %s%s, denormals %s" % (
        first_torch.get("blas_core") or "n/a", " (set by torch_bench.py)" if first_torch.get("blas_core_forced") else "",
        "flushed" if first_torch.get("flush_denormal") else "computed")
    out = []
    w = out.append
    w("Generated by `bench/compare.py --configs %s --threads %s --rounds %d --seconds %s` on %s." % (
        ",".join(configs), ",".join(map(str, threads)), a.rounds, sec,
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    w("Machine: %s, %d logical CPUs; PyTorch %s (%s); medians of %d rounds, samples per second." % (
        lscpu_model(), os.cpu_count() or 0, torch_version, torch_settings, a.rounds))
    w("")
    w("| config | threads | seqnet train/s | torch train/s | train ratio | seqnet infer/s | torch infer/s | infer ratio | seqnet peak RSS MB | torch peak RSS MB |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in configs:
        for t in threads:
            st, pt = med("seqnet", c, t, "train_samples_per_s"), med("pytorch", c, t, "train_samples_per_s")
            si, pi = med("seqnet", c, t, "infer_samples_per_s"), med("pytorch", c, t, "infer_samples_per_s")
            sm, pm = med("seqnet", c, t, "peak_rss_mb"), med("pytorch", c, t, "peak_rss_mb")
            w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                c, t, fmt(st), fmt(pt), fmt(ratio(st, pt), 2) + ("x" if ratio(st, pt) else ""),
                fmt(si), fmt(pi), fmt(ratio(si, pi), 2) + ("x" if ratio(si, pi) else ""), fmt(sm, 1), fmt(pm, 1)))
    w("")
    w("The same ratios by the fastest tenth of the single calls' times (PyTorch's over seqnet's: training steps "
      "of the batch, inference batches; medians over the rounds), which a host's slow spells move least:")
    w("")
    w("| config | threads | train ratio, fastest tenth | infer ratio, fastest tenth |")
    w("|---|---:|---:|---:|")
    for c in configs:
        for t in threads:
            tr = ratio(med("pytorch", c, t, "train_step_us_p10"), med("seqnet", c, t, "train_step_us_p10"))
            ir = ratio(med("pytorch", c, t, "infer_batch_us_p10"), med("seqnet", c, t, "infer_batch_us_p10"))
            w("| %s | %d | %s | %s |" % (c, t, fmt(tr, 2) + ("x" if tr else ""), fmt(ir, 2) + ("x" if ir else "")))
    if errors:
        w("")
        for (fw, c, t), err in sorted(errors.items()):
            w("- %s %s at %d thread(s) failed: %s" % (fw, c, t, err))

    if 1 in threads and len(threads) > 1:
        w("")
        w("Thread scaling (training and inference samples/s at N threads over 1 thread; \"fastest tenth\": "
          "seqnet's training step time at 1 thread over N threads, both the fastest tenth of the steps of a run, "
          "which a host's slow spells move least):")
        w("")
        w("| config | " + " | ".join("seqnet train %dt/1t | seqnet train %dt/1t, fastest tenth | torch train %dt/1t | "
                                     "seqnet infer %dt/1t" % (t, t, t, t) for t in threads if t != 1) + " |")
        w("|---|" + "---:|---:|---:|---:|" * (len(threads) - 1))
        for c in configs:
            cells = []
            for t in threads:
                if t == 1:
                    continue
                cells.append(fmt(ratio(med("seqnet", c, t, "train_samples_per_s"), med("seqnet", c, 1, "train_samples_per_s")), 2))
                cells.append(fmt(ratio(med("seqnet", c, 1, "train_step_us_p10"), med("seqnet", c, t, "train_step_us_p10")), 2))
                cells.append(fmt(ratio(med("pytorch", c, t, "train_samples_per_s"), med("pytorch", c, 1, "train_samples_per_s")), 2))
                cells.append(fmt(ratio(med("seqnet", c, t, "infer_samples_per_s"), med("seqnet", c, 1, "infer_samples_per_s")), 2))
            w("| %s | %s |" % (c, " | ".join(cells)))

    big = [c for c in configs if c in BIG]
    if big:
        w("")
        w("Achieved training GFLOP/s of the large models (FLOPs per sample = 3 x T x dirs x 2(D*4H + H*4H), "
          "the dense computation's count: samples/s times that; seqnet reads only a batch's distinct ids "
          "through the input projection and does fewer, so its column is the rate a dense computation would "
          "need for the same speed), beside the machine's rates at the same thread count:")
        w("")
        w("| config | threads | GFLOP/sample | seqnet GFLOP/s | torch GFLOP/s | Eigen SGEMM 1024^3 | Eigen GEMM, projection shape | measured FMA peak | nominal peak (issue) | seqnet / measured peak |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in big:
            f = train_flops_per_sample(c)
            for t in threads:
                st, pt = med("seqnet", c, t, "train_samples_per_s"), med("pytorch", c, t, "train_samples_per_s")
                g = gemm.get(t, {})
                sg = st * f * 1e-9 if st else None
                pg = pt * f * 1e-9 if pt else None
                peak = g.get("fma_peak_gflops")
                w("| %s | %d | %.3f | %s | %s | %s | %s | %s | %s | %s |" % (
                    c, t, f * 1e-9, fmt(sg, 1), fmt(pg, 1), fmt(g.get("gemm_1024_gflops"), 1),
                    fmt(g.get("gemm_proj_gflops"), 1), fmt(peak, 1), fmt(NOMINAL_PEAK_PER_CORE * t, 0),
                    (fmt(100.0 * sg / peak, 0) + "%") if sg and peak else "n/a"))

    # Targets of the performance issue, checked on this run's medians.
    w("")
    w("Targets (medians of this run):")
    w("")
    w("| target | measured | met |")
    w("|---|---:|:---:|")

    def target(text, value, threshold, suffix="x"):
        if value is None:
            w("| %s | n/a | n/a |" % text)
        else:
            w("| %s | %s%s | %s |" % (text, fmt(value, 2), suffix, "yes" if value >= threshold else "**no**"))

    two = max(threads) if max(threads) > 1 else None
    for c in configs:
        st1, pt1 = med("seqnet", c, 1, "train_samples_per_s"), med("pytorch", c, 1, "train_samples_per_s")
        si1, pi1 = med("seqnet", c, 1, "infer_samples_per_s"), med("pytorch", c, 1, "infer_samples_per_s")
        if c in CHAPTER:
            target("%s: train >= 20x torch at 1 thread" % c, ratio(st1, pt1), 20)
            if two:
                target("%s: seqnet train at %d threads >= 1.6x its 1 thread" % (c, two),
                       ratio(med("seqnet", c, two, "train_samples_per_s"), st1), 1.6)
            target("%s: infer >= 8x torch at 1 thread" % c, ratio(si1, pi1), 8)
        else:
            target("%s: train >= 2x torch at 1 thread" % c, ratio(st1, pt1), 2)
            if two:
                best_torch = max([v for v in (med("pytorch", c, t, "train_samples_per_s") for t in threads) if v] or [0]) or None
                target("%s: seqnet train at %d threads >= 3x torch's best" % (c, two),
                       ratio(med("seqnet", c, two, "train_samples_per_s"), best_torch), 3)
        if c == "big_bilstm":
            for t in threads:
                sm, pm = med("seqnet", c, t, "peak_rss_mb"), med("pytorch", c, t, "peak_rss_mb")
                target("big_bilstm: peak RSS at %d thread(s) <= torch's (torch / seqnet)" % t, ratio(pm, sm), 1)

    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    if a.raw:
        with open(a.raw, "w") as f:
            json.dump(raw, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
