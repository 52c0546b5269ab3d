#!/usr/bin/env python3
"""Writes docs/results.md (to stdout) from the metrics.json files that examples/reproduce_chapter.sh produced."""
import datetime
import json
import os
import platform
import subprocess
import sys

# Keras' numbers from the chapter (book-results.md): best val_loss / val_acc, stopping epoch, rerun band of val_acc.
KERAS = {
    "onehot-rnn": ("M1", 0.4533, 0.7916, 35, "0.786-0.794"),
    "emb-rnn": ("M2", 0.4575, 0.7934, 31, "0.783-0.793"),
    "lstm": ("M3", 0.4273, 0.8056, 44, "0.794-0.806"),
    "lstm-dropout": ("M4", 0.4286, 0.8020, 50, "0.790-0.804"),
    "lstm-2layer": ("M5", 0.4295, 0.8058, 42, "0.784-0.806"),
    "gru": ("M6", 0.4338, 0.7994, 55, "0.790-0.799"),
    "lstm-2layer-adam": ("M5 Adam", None, 0.818, None, "0.818 (one run)"),
    "gru-adam": ("M6 Adam", None, 0.816, None, "0.816 (one run)"),
}


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def verdict(m, band):
    lo = float(band.split("-")[0].split(" ")[0])
    return "yes" if m["best_val_accuracy"] >= lo - 1e-9 else "no"


def main():
    out_dir = sys.argv[1]
    rows = []
    for name, (label, k_loss, k_acc, k_epoch, band) in KERAS.items():
        path = os.path.join(out_dir, name, "metrics.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            m = json.load(f)
        rows.append((label, name, m, k_loss, k_acc, k_epoch, band))
    print("# The chapter's experiments, reproduced\n")
    print("Produced by `examples/reproduce_chapter.sh` (the chapter's settings: num_words 500, maxlen 100, RMSprop 1e-4,")
    print("batch 64, up to 100 epochs, 20% seeded validation split, early stopping with patience 3 on val_loss and")
    print("the best weights restored; Adam rows: learning rate 1e-3, dropout 0.2). Test figures are those of the best")
    print("checkpoint on the 25,000 test reviews.\n")
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; date {datetime.date.today().isoformat()}.\n")
    print("Command: `SEQNET_REPRO_ARGS=\"--threads 2\" examples/reproduce_chapter.sh` (seed 42, float, 2 threads).\n")
    print("| model | seqnet stopped at | seqnet best val_loss / val_acc | seqnet test loss / acc | train time (s) | "
          "Keras stopped at | Keras best val_loss / val_acc | Keras val_acc band | in or above the band |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, name, m, k_loss, k_acc, k_epoch, band in rows:
        k_pair = (f"{k_loss:.4f} / {k_acc:.4f}" if k_loss is not None else f"- / {k_acc:.3f}")
        print(f"| {label} `{name}` | {m['stopped_epoch']} (best {m['best_epoch']}) | "
              f"{m['best_val_loss']:.4f} / {m['best_val_accuracy']:.4f} | "
              f"{m['test_loss']:.4f} / {m['test_accuracy']:.4f} | {m['train_seconds']:.1f} | "
              f"{k_epoch if k_epoch is not None else '-'} | {k_pair} | {band} | {verdict(m, band)} |")
    print("\nKeras' M5 test result: loss 0.4252, accuracy 0.8019 (reruns: accuracy 0.785-0.802, loss 0.425-0.467).")
    print("Second edition with Adam: GRU test accuracy 0.819 (loss 0.401).\n")
    print("Training and validation curves of each run (written by the example as `curves.svg`):\n")
    for label, name, m, *_ in rows:
        print(f"- {label}: ![{name}](img/curves-{name}.svg)")


if __name__ == "__main__":
    main()
