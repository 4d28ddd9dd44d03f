"""The lab's safetensors files against the real Python `safetensors` package (its NumPy
API reads and writes the same bytes as `safetensors.torch`).

1. The lab writes a model; Python loads it with safetensors.numpy.load_file, checks the
   tensors' names, dtypes, shapes and the metadata, and recomputes the exact log Z by
   brute force from the loaded arrays: it must equal the lab's.
2. Python writes a model with safetensors.numpy.save_file (float32, then float64); the
   lab loads it and reports its exact log Z, which must equal Python's brute force.
3. A file with a wrong shape written by Python is refused by the lab with its reason.

Usage: python scripts/check_safetensors.py PATH_TO_safetensors_check_BINARY
"""
import itertools
import json
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def log_partition(W, b, c):
    """log Z = log Σ_v exp(bᵀv) Π_j (1 + exp(c_j + (vᵀW)_j)), by enumerating v."""
    m = W.shape[0]
    terms = []
    for bits in itertools.product([0.0, 1.0], repeat=m):
        v = np.array(bits)
        terms.append(v @ b + np.sum(np.logaddexp(0.0, c + v @ W)))
    terms = np.array(terms)
    top = terms.max()
    return float(top + np.log(np.exp(terms - top).sum()))


def main():
    helper = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([helper, "write", tmp], check=True)
        tensors = load_file(f"{tmp}/lab.safetensors")
        assert sorted(tensors) == ["W", "b", "c"], sorted(tensors)
        W, b, c = (tensors[k].astype(np.float64) for k in ("W", "b", "c"))
        assert tensors["W"].dtype == np.float32 and tensors["W"].shape == (6, 4), (tensors["W"].dtype, tensors["W"].shape)
        assert tensors["b"].shape == (6,) and tensors["c"].shape == (4,)
        with safe_open(f"{tmp}/lab.safetensors", framework="numpy") as f:
            meta = f.metadata()
        assert meta["format"] == "rbm-lab-model" and meta["image_shape"] == "2x3" and meta["steps_done"] == "77", meta
        assert json.loads(meta["config"])["n_hidden"] == 4
        lab = json.load(open(f"{tmp}/lab.json"))["log_partition"]
        ours = log_partition(W, b, c)
        assert abs(lab - ours) < 1e-4, (lab, ours)
        print(f"lab -> Python: log Z {lab:.6f} (lab) and {ours:.6f} (NumPy brute force)")

        rng = np.random.default_rng(7)
        for dtype in (np.float32, np.float64):
            W = rng.normal(size=(5, 3)).astype(dtype)
            b = rng.normal(size=5).astype(dtype)
            c = rng.normal(size=3).astype(dtype)
            path = f"{tmp}/python-{np.dtype(dtype).name}.safetensors"
            save_file({"W": W, "b": b, "c": c}, path, metadata={"format": "rbm-lab-model", "image_shape": "1x5"})
            out = subprocess.run([helper, "read", path], check=True, capture_output=True, text=True).stdout
            read = json.loads(out)
            ours = log_partition(W.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64),
                                 c.astype(np.float32).astype(np.float64))
            assert (read["n_visible"], read["n_hidden"]) == (5, 3), read
            assert abs(read["log_partition"] - ours) < 1e-4, (read, ours)
            print(f"Python ({np.dtype(dtype).name}) -> lab: log Z {read['log_partition']:.6f} (lab) and {ours:.6f} (NumPy)")

        save_file({"W": np.zeros((5, 3), np.float32), "b": np.zeros(4, np.float32), "c": np.zeros(3, np.float32)}, f"{tmp}/bad.safetensors")
        refused = subprocess.run([helper, "read", f"{tmp}/bad.safetensors"], capture_output=True, text=True)
        assert refused.returncode == 3 and "tensor `b` has shape [4], expected [5]" in refused.stderr, (refused.returncode, refused.stderr)
        print(f"a bad file is refused: {refused.stderr.strip()}")


if __name__ == "__main__":
    main()
