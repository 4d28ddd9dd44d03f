"""NumPy reference for `./lab bench`: the same three figures as benches/engine.rs,
on the same data, in float32 (CD-1 as in plain NumPy RBM code; Gibbs with 100 chains;
exact log Z of a 784 x 20 model by enumerating the 2^20 hidden states in blocks).

`bench_reference.py ROOT --turns COMMAND...` instead times CD-1 in turns with the
native engine's (COMMAND prints its updates/s) and prints the ratios of each round."""
import subprocess
import sys
import time

import numpy as np

ROOT = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "."


def load_packed(path):
    raw = open(path, "rb").read()
    assert raw[:4] == b"RBMB" and raw[4] == 1, "not a packed image file"
    count = int.from_bytes(raw[5:9], "little")
    rows = int.from_bytes(raw[9:11], "little")
    cols = int.from_bytes(raw[11:13], "little")
    offset = 14 + (count if raw[13] else 0)
    per_image = (rows * cols + 7) // 8
    bits = np.frombuffer(raw[offset:], dtype=np.uint8).reshape(count, per_image)
    return np.unpackbits(bits, axis=1)[:, : rows * cols].astype(np.float32)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def median_rate(fn, repeats, per_call):
    """The median rate of `repeats` timed calls, and the slowest and fastest."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(per_call / (time.perf_counter() - start))
    return float(np.median(rates)), float(min(rates)), float(max(rates))


def shown(rate):
    median, low, high = rate
    return f"{median:8.1f} ({low:.1f} to {high:.1f})"


def numpy_cd1(data, rng):
    """NumPy float32 CD-1 at 784 x 500, batch 100: (median, slowest, fastest) updates/s."""
    m, n, batch = 784, 500, 100
    w = (0.01 * rng.standard_normal((m, n))).astype(np.float32)
    b = np.zeros(m, np.float32)
    c = np.zeros(n, np.float32)
    dw = np.zeros_like(w)

    def cd_updates(count):
        nonlocal w, b, c, dw
        for step in range(count):
            v0 = data[(step * batch) % 9000:(step * batch) % 9000 + batch]
            ph0 = sigmoid(v0 @ w + c)
            h0 = (rng.random(ph0.shape, dtype=np.float32) < ph0).astype(np.float32)
            pv1 = sigmoid(h0 @ w.T + b)
            v1 = (rng.random(pv1.shape, dtype=np.float32) < pv1).astype(np.float32)
            ph1 = sigmoid(v1 @ w + c)
            dw = 0.5 * dw + 0.05 * ((v0.T @ ph0 - v1.T @ ph1) / batch - 1e-4 * w)
            w += dw
            b += 0.05 * (v0 - v1).mean(0)
            c += 0.05 * (ph0 - ph1).mean(0)

    cd_updates(5)
    return median_rate(lambda: cd_updates(20), 5, 20), w, b, c


def turns(data, native, rounds=5):
    """Native CD-1 and NumPy's in turns: `native` (a command printing the portable and
    the fast kernel's updates/s) then NumPy's, `rounds` times, so that both see the
    same phases of a machine whose speed moves between runs."""
    print("| round | native, portable kernel: updates/s | native, fast kernels | NumPy | portable against NumPy | fast against NumPy |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios = []
    for round_number in range(1, rounds + 1):
        # Only stdout is read: cargo's own errors, if any, reach the terminal.
        out = subprocess.run(native, check=True, stdout=subprocess.PIPE, text=True).stdout.split()
        portable, fast = float(out[-2]), float(out[-1])
        numpy_rate = numpy_cd1(data, np.random.default_rng(round_number))[0][0]
        ratios.append((portable / numpy_rate, fast / numpy_rate))
        print(f"| {round_number} | {portable:.1f} | {fast:.1f} | {numpy_rate:.1f} "
              f"| {ratios[-1][0]:.2f}x | {ratios[-1][1]:.2f}x |")
    medians = np.median(np.array(ratios), axis=0)
    print(f"median of the rounds' ratios: portable {medians[0]:.2f}x, fast {medians[1]:.2f}x NumPy "
          f"(fast from {min(r[1] for r in ratios):.2f}x to {max(r[1] for r in ratios):.2f}x)")


def main():
    data = load_packed(f"{ROOT}/www/data/mnist.bin")[:9000]
    if "--turns" in sys.argv[1:]:
        turns(data, sys.argv[sys.argv.index("--turns") + 1:])
        return
    rng = np.random.default_rng(1)
    m, n, batch = 784, 500, 100
    cd, w, b, c = numpy_cd1(data, rng)

    # scikit-learn's BernoulliRBM: one partial_fit is one PCD-1 update on a minibatch
    # (its persistent chains are one per batch row), in float32 as given.
    from sklearn.neural_network import BernoulliRBM
    import sklearn
    sk = BernoulliRBM(n_components=n, learning_rate=0.05, batch_size=batch, random_state=1)
    sk.partial_fit(data[:batch])
    step = [0]

    def sk_updates(count):
        for _ in range(count):
            start = (step[0] * batch) % 9000
            sk.partial_fit(data[start:start + batch])
            step[0] += 1

    sk_updates(5)
    sk_rate = median_rate(lambda: sk_updates(20), 5, 20)
    sk_chains = (rng.random((100, m)) < 0.5).astype(np.float32)

    def sk_gibbs(count):
        nonlocal sk_chains
        for _ in range(count):
            sk_chains = sk.gibbs(sk_chains)

    sk_gibbs(5)
    sk_gibbs_rate = median_rate(lambda: sk_gibbs(20), 5, 20)

    chains = (rng.random((100, m)) < 0.5).astype(np.float32)

    def gibbs(count):
        nonlocal chains
        for _ in range(count):
            ph = sigmoid(chains @ w + c)
            h = (rng.random(ph.shape, dtype=np.float32) < ph).astype(np.float32)
            pv = sigmoid(h @ w.T + b)
            chains = (rng.random(pv.shape, dtype=np.float32) < pv).astype(np.float32)

    gibbs(5)
    gibbs_rate = median_rate(lambda: gibbs(20), 5, 20)

    w20 = (0.01 * rng.standard_normal((m, 20))).astype(np.float64)
    b20 = np.log(np.clip(data.mean(0), 1e-3, 1 - 1e-3) / (1 - np.clip(data.mean(0), 1e-3, 1 - 1e-3)))
    start = time.perf_counter()
    total = []
    for block in range(16):
        states = ((np.arange(block << 16, (block + 1) << 16)[:, None] >> np.arange(20)) & 1).astype(np.float64)
        total.append(softplus(states @ w20.T + b20).sum(1))
    lw = np.concatenate(total)
    log_z = lw.max() + np.log(np.exp(lw - lw.max()).sum())
    log_z_seconds = time.perf_counter() - start
    assert np.isfinite(log_z)

    print(f"| references, one OpenBLAS thread (NumPy {np.__version__}, scikit-learn {sklearn.__version__}) | median (slowest to fastest of 5) |")
    print("|---------------------------------------------|-----------------|")
    print(f"| NumPy float32 CD-1 784x500, batch 100: updates/s | {shown(cd)} |")
    print(f"| NumPy float32 Gibbs 784x500, 100 chains: steps/s | {shown(gibbs_rate)} |")
    print(f"| BernoulliRBM float32 PCD-1 (partial_fit), batch 100: updates/s | {shown(sk_rate)} |")
    print(f"| BernoulliRBM float32 gibbs, 100 chains: steps/s | {shown(sk_gibbs_rate)} |")
    print(f"| NumPy float64 exact log Z, 784x20 (2^20 states): s | {log_z_seconds:8.2f} |")


if __name__ == "__main__":
    main()
