"""Reproduce the README's quality table: `./lab reproduce` (the full run, which writes the
README) or `./lab reproduce --quick` (one seed, one epoch, a small AIS; `./lab test` runs
it and checks the figures are sane, without touching the README).

On MNIST's fixed 9,000 / 1,000 split (`rbm-lab data`), at 20 hidden units (exact
log-likelihood) and 500 (AIS), at an equal budget of epochs and over several seeds:
- the lab's engine (`rbm-lab train`, one thread) with CD-1, CD-10, PCD-1, centred PCD-1,
  parallel tempering and the "Best at 20 hidden units" preset;
- a plain NumPy CD-1 of ours (float32, the engine's settings and initialisation,
  sampled reconstructions), written here;
- scikit-learn's BernoulliRBM (PCD with one chain per minibatch row, no momentum or
  weight decay: its own update) at the same rate, batch and epochs.
Every model is written as safetensors and scored by one evaluator, `rbm-lab eval`; the
training-set log-likelihood is computed here in NumPy from the evaluator's log Z, and
the held-out free energies are recomputed here too as an outside check of the engine.

usage: reproduce.py RBM_LAB_BINARY [--quick] [--readme README.md] [--work DIR]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import sklearn
from safetensors.numpy import load_file, save_file
from sklearn.neural_network import BernoulliRBM

# The benchmark reference's NumPy functions (this folder is on the import path).
from bench_reference import sigmoid, softplus

# Shared by every run but the preset, which keeps its own schedule (rate 0.1 falling
# to 0.001 over the run, centred PCD-1, 100 chains).
RATE, MOMENTUM, DECAY, BATCH = 0.05, 0.5, 1e-4, 100
COMMON = ["--lr", str(RATE), "--momentum", str(MOMENTUM), "--weight-decay", str(DECAY),
          "--batch", str(BATCH)]
# (label, negative chains x Gibbs sweeps per update, rbm-lab train options)
ENGINE = [
    ("CD-1", "100 × 1", COMMON + ["--algorithm", "cd", "--k", "1"]),
    ("CD-10", "100 × 10", COMMON + ["--algorithm", "cd", "--k", "10"]),
    ("PCD-1", "100 × 1", COMMON + ["--algorithm", "pcd", "--k", "1", "--chains", "100"]),
    ("PCD-1, centred", "100 × 1",
     COMMON + ["--algorithm", "pcd", "--k", "1", "--chains", "100", "--centring"]),
    ("Parallel tempering, 4 β from 1 to 0.5", "4 × 100 × 1",
     COMMON + ["--algorithm", "tempering", "--k", "1", "--chains", "100",
               "--temperatures", "4", "--beta-min", "0.5"]),
    ("Best preset (centred PCD-1, rate 0.1 → 0.001)", "100 × 1", ["--preset", "best20"]),
]
BEGIN, END = "<!-- reproduce-table:begin -->", "<!-- reproduce-table:end -->"


def run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def load_csv(path):
    return np.loadtxt(path, delimiter=",", comments="#", dtype=np.float32)


def free_energy(data, w, b, c):
    """F(v) = -b·v - Σ_j softplus(c_j + v·W_j), in float64."""
    v = data.astype(np.float64)
    return -v @ b.astype(np.float64) - softplus(v @ w.astype(np.float64) + c).sum(1)


def numpy_cd1(train, hidden, epochs, seed):
    """Plain CD-1 as the engine does it: weights N(0, 0.01²), visible biases at the
    data's log-odds, momentum on every parameter, decay on the weights, sampled
    reconstructions with the hidden probabilities given them, a fresh order each epoch."""
    rng = np.random.default_rng(seed)
    n, m = train.shape
    w = (0.01 * rng.standard_normal((m, hidden))).astype(np.float32)
    p = np.clip(train.mean(0, dtype=np.float64), 1e-3, 1 - 1e-3)
    b = np.log(p / (1 - p)).astype(np.float32)
    c = np.zeros(hidden, np.float32)
    dw, db, dc = np.zeros_like(w), np.zeros_like(b), np.zeros_like(c)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n - BATCH + 1, BATCH):
            v0 = train[order[start:start + BATCH]]
            ph0 = sigmoid(v0 @ w + c)
            h0 = (rng.random(ph0.shape, dtype=np.float32) < ph0).astype(np.float32)
            pv1 = sigmoid(h0 @ w.T + b)
            v1 = (rng.random(pv1.shape, dtype=np.float32) < pv1).astype(np.float32)
            ph1 = sigmoid(v1 @ w + c)
            dw = MOMENTUM * dw + RATE * ((v0.T @ ph0 - v1.T @ ph1) / BATCH - DECAY * w)
            db = MOMENTUM * db + RATE * (v0 - v1).mean(0)
            dc = MOMENTUM * dc + RATE * (ph0 - ph1).mean(0)
            w += dw
            b += db
            c += dc
    return w, b, c


def sklearn_rbm(train, hidden, epochs, seed):
    rbm = BernoulliRBM(n_components=hidden, learning_rate=RATE, batch_size=BATCH,
                       n_iter=epochs, random_state=seed)
    rbm.fit(train)
    return rbm.components_.T, rbm.intercept_visible_, rbm.intercept_hidden_


def save(path, w, b, c):
    save_file({"W": np.ascontiguousarray(w, np.float32), "b": np.ascontiguousarray(b, np.float32),
               "c": np.ascontiguousarray(c, np.float32)}, path)


def read_tensors(path):
    t = load_file(path)
    return t["W"], t["b"], t["c"]


def spread(values):
    values = np.asarray(values, dtype=np.float64)
    return values.mean(), (values.std(ddof=1) if len(values) > 1 else float("nan"))


def fmt(mean, sd, digits=1):
    return f"{mean:.{digits}f}" if np.isnan(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lab")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--readme")
    parser.add_argument("--work")
    args = parser.parse_args()
    seeds = [1] if args.quick else [1, 2, 3]
    epochs = 1 if args.quick else 10
    # (hidden units, AIS runs, AIS temperatures); the exact value is used where it exists.
    sizes = [(20, 100, 2000), (500, 20, 200) if args.quick else (500, 100, 5000)]
    work = args.work or tempfile.mkdtemp(prefix="rbm-lab-reproduce-")
    os.makedirs(work, exist_ok=True)
    lab = os.path.abspath(args.lab)
    started = time.time()

    run([lab, "data", "mnist", "--out", f"{work}/train.csv"])
    run([lab, "data", "mnist:test", "--out", f"{work}/test.csv"])
    train, test = load_csv(f"{work}/train.csv"), load_csv(f"{work}/test.csv")
    assert train.shape == (9000, 784) and test.shape == (1000, 784), (train.shape, test.shape)
    # The independent-pixels model (each pixel at its training frequency): a floor.
    p = np.clip(train.mean(0, dtype=np.float64), 1e-3, 1 - 1e-3)
    floor = float((test * np.log(p) + (1 - test) * np.log(1 - p)).sum(1).mean())

    rows, problems = [], []
    for hidden, ais_runs, ais_temps in sizes:
        methods = [(label, chains, "engine", options) for label, chains, options in ENGINE]
        methods += [("NumPy CD-1 (ours, float32)", "100 × 1", "numpy", None),
                    (f"scikit-learn {sklearn.__version__} BernoulliRBM (PCD-1)", "100 × 1",
                     "sklearn", None)]
        for label, chains, kind, options in methods:
            results = []
            for seed in seeds:
                model = f"{work}/{kind}-{label[:5].replace(' ', '_')}-{hidden}-{seed}.safetensors"
                start = time.perf_counter()
                if kind == "engine":
                    extra = ["--decay-epochs", str(epochs)] if "--preset" in options else []
                    run([lab, "--threads", "1", "train", "--data", "mnist", "--hidden", str(hidden),
                         "--epochs", str(epochs), "--seed", str(seed), "--out", model]
                        + options + extra)
                else:
                    env_fit = numpy_cd1 if kind == "numpy" else sklearn_rbm
                    save(model, *env_fit(train, hidden, epochs, seed))
                seconds = time.perf_counter() - start
                report = json.loads(run([lab, "eval", model, "mnist", "--json", "--seed", str(seed),
                                         "--ais-runs", str(ais_runs),
                                         "--ais-temperatures", str(ais_temps)]))
                w, b, c = read_tensors(model)
                exact = report["log_partition_exact"]
                log_z = exact if exact is not None else report["log_partition_ais"]
                error = 0.0 if exact is not None else report["log_likelihood_ais_standard_error"]
                test_f = free_energy(test, w, b, c).mean()
                # Outside check: NumPy's free energies against the engine's, to 1e-6 relative
                # (both in float64 from the same float32 parameters).
                if abs(test_f - report["mean_free_energy"]) > 1e-6 * max(1.0, abs(test_f)):
                    problems.append(f"{label}, {hidden} hidden, seed {seed}: free energy "
                                    f"{test_f} here, {report['mean_free_energy']} in the engine")
                held_out = -test_f - log_z
                training = -free_energy(train, w, b, c).mean() - log_z
                if exact is not None:
                    # AIS against the exact value, within 4 standard errors and 0.2 nats.
                    gap = abs(report["log_likelihood_ais"] - report["log_likelihood_exact"])
                    if gap > 4 * report["log_likelihood_ais_standard_error"] + 0.2:
                        problems.append(f"{label}, {hidden} hidden, seed {seed}: AIS is {gap:.3f} "
                                        "nats from the exact log-likelihood")
                if not all(np.isfinite([held_out, training, log_z])):
                    problems.append(f"{label}, {hidden} hidden, seed {seed}: not finite")
                results.append((training, held_out, error, seconds))
                print(f"{hidden:>3} hidden  {label:<48} seed {seed}  train {training:8.2f}  "
                      f"held-out {held_out:8.2f}  ± {error:.2f}  {seconds:6.1f} s", flush=True)
            tr, ho, err, sec = zip(*results)
            rows.append((hidden, label, chains, spread(tr), spread(ho), float(np.mean(err)),
                         spread(sec), "exact" if hidden == 20 else f"AIS ({ais_runs} × {ais_temps})"))
            if hidden == 20 and kind in ("engine", "numpy") and label.startswith(("CD-1", "NumPy")):
                if np.mean(ho) <= floor:
                    problems.append(f"{label}: held-out {np.mean(ho):.2f} is no better than "
                                    f"independent pixels ({floor:.2f})")

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu} ({os.cpu_count()} cores), "
        f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))}), "
        f"{epochs} epoch{'s' if epochs > 1 else ''} each, in {(time.time() - started) / 60:.0f} minutes "
        f"by `./lab reproduce{' --quick' if args.quick else ''}`. Log-likelihoods in nats per "
        f"image, mean ± standard deviation over seeds; independent pixels score {floor:.1f} on "
        "the held-out digits. Training time is one thread (NumPy and scikit-learn with one "
        "OpenBLAS thread), evaluation excluded.",
        "",
        "| hidden | method | chains × sweeps per update | training LL | held-out LL | log Z by | AIS σ | seconds |",
        "|---:|---|---|---:|---:|---|---:|---:|",
    ]
    for hidden, label, chains, tr, ho, err, sec, how in rows:
        lines.append(f"| {hidden} | {label} | {chains} | {fmt(*tr)} | {fmt(*ho)} | {how} | "
                     f"{'–' if how == 'exact' else f'{err:.2f}'} | {fmt(*sec)} |")
    table = "\n".join(lines)
    print("\n" + table)
    if args.readme:
        text = open(args.readme).read()
        if BEGIN not in text or END not in text:
            sys.exit(f"{args.readme} has no {BEGIN} ... {END} block")
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        open(args.readme, "w").write(f"{head}{BEGIN}\n{table}\n{END}{tail}")
        print(f"\nwrote the table into {args.readme}")
    if problems:
        sys.exit("problems:\n" + "\n".join(problems))


if __name__ == "__main__":
    main()
