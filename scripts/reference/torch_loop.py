#!/usr/bin/env python3
"""threadgrad's training run in PyTorch on the CPU, as users write it: a peer for time to accuracy.

nn.Sequential of nn.Linear and nn.ReLU (784 -> --hidden -> 10), He init N(0, 2/fan_in) and zero
biases, F.cross_entropy (mean over the batch), torch.optim (SGD, SGD with momentum or nesterov,
Adam, AdamW; weight_decay on every parameter) and torch.optim.lr_scheduler stepped once a batch
(CosineAnnealingLR after a LambdaLR warm-up, OneCycleLR with its defaults and
cycle_momentum=False). Each epoch reshuffles with a seeded torch.randperm and walks batches of
--batch, dropping the short last one; pixels / 255; float32.

The flags, the evaluation points, the timing and the JSON are numpy_loop.py's (imported from it):
run with --help for the flags. `seconds` is cumulative training time (shuffles and steps) without
the evaluations of the whole test set; the first point is the untrained net.

Threads: --threads T sets torch.set_num_threads(T) and, because Debian's torch does its matrix
products in the system BLAS (OpenBLAS, whose thread count torch.set_num_threads leaves alone),
OpenBLAS's count too; without --threads both take torch's default intra-op count. Run Debian's
interpreter, without the OpenBLAS overrides some machines set. At T > 1 torch's OpenMP threads
spin between parallel regions (libgomp's default wait policy) next to OpenBLAS's threads; on a
2-core machine that others were using this took a step from 1 ms at T = 1 to 30-60 ms at T = 2,
and to 3 ms with OMP_WAIT_POLICY=PASSIVE. The script leaves the policy as the caller set it and
records it in blas.env:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/reference/torch_loop.py --epochs 3 --threads 1
"""
import math
import os
import platform
import sys
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the repository for the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_loop as common  # noqa: E402  (the shared contract; loads NumPy and its OpenBLAS)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


def make_optimizer(args, params):
    wd = args.weight_decay
    if args.optimizer == "sgd":
        return torch.optim.SGD(params, lr=args.lr, weight_decay=wd)
    if args.optimizer in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, nesterov=args.optimizer == "nesterov", weight_decay=wd)
    cls = torch.optim.Adam if args.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps, weight_decay=wd)


def make_scheduler(args, optimizer, total):
    """The schedule of numpy_loop.lr_at, from torch.optim.lr_scheduler; None for a constant lr."""
    sched = torch.optim.lr_scheduler
    w = args.warmup_steps
    if args.lr_schedule == "one-cycle":
        return sched.OneCycleLR(optimizer, max_lr=args.lr, total_steps=total, cycle_momentum=False)
    # Linear warm-up from 0: step t (last_epoch t - 1) runs at lr * t / W.
    warmup = (lambda: sched.LambdaLR(optimizer, lambda i: min(1.0, (i + 1) / w))) if w else None
    if args.lr_schedule == "constant":
        return warmup() if w else None
    if not w:
        return sched.CosineAnnealingLR(optimizer, T_max=total)
    if w >= total:
        return warmup()
    # SequentialLR steps the cosine with step(0) at the milestone, which torch 1.13 warns about
    # (the closed form it then uses is the right lr: main() checks every step's lr against lr_at).
    warnings.filterwarnings("ignore", message="The epoch parameter in `scheduler.step\\(\\)`")
    return sched.SequentialLR(optimizer, [warmup(), sched.CosineAnnealingLR(optimizer, T_max=total - w)], milestones=[w])


def main():
    parser = common.contract_parser("torch_loop.py", __doc__.split("\n")[0])
    args = parser.parse_args()
    args.data_dir = args.data_dir or common.DEFAULT_DATA_DIR
    common.finish_args(parser, args)

    notes = common.env_notes()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    ob = common.openblas()
    if ob:
        ob["lib"].openblas_set_num_threads(threads)
        notes.append(f"OpenBLAS (torch's BLAS here) set to {ob['lib'].openblas_get_num_threads()} threads, as torch's intra-op pool")
    else:
        notes.append("no OpenBLAS mapped: torch's own BLAS decides its threads")

    if threads > 1 and "OMP_WAIT_POLICY" not in os.environ:
        notes.append("OMP_WAIT_POLICY unset: torch's OpenMP threads spin between parallel regions, which costs much on a busy machine at threads > 1")

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    tx, ty, vx, vy = common.load_mnist(parser, args.data_dir, args.limit_train)
    train_x, train_y = torch.from_numpy(tx), torch.from_numpy(ty.astype(np.int64))
    test_x, test_y = torch.from_numpy(vx), torch.from_numpy(vy.astype(np.int64))

    sizes = [train_x.shape[1]] + args.hidden + [10]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(n_in, n_out)
        with torch.no_grad():
            nn.init.normal_(linear.weight, 0.0, math.sqrt(2.0 / n_in))
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)

    n, batch = len(train_y), args.batch
    steps = n // batch
    total = steps * args.epochs
    optimizer = make_optimizer(args, model.parameters())
    scheduler = make_scheduler(args, optimizer, total)
    lr_gap = [0.0]  # the largest relative gap between torch's lr and the contract's lr_at

    def step(order, s, t):
        idx = order[s * batch:(s + 1) * batch]
        x, y = train_x[idx], train_y[idx]
        lr = optimizer.param_groups[0]["lr"]
        want = common.lr_at(args, t, total)
        lr_gap[0] = max(lr_gap[0], abs(lr - want) / want if want else abs(lr))
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return loss.item()

    def evaluate():
        with torch.no_grad():
            logits = model(test_x)
            acc = (logits.argmax(dim=1) == test_y).sum().item() / len(test_y)
            return acc, F.cross_entropy(logits, test_y).item()

    run = common.train_loop(args, steps, shuffle=lambda: torch.randperm(n, generator=gen), step=step, evaluate=evaluate)
    notes.append(f"torch.optim.lr_scheduler's lr matched the contract's schedule to {lr_gap[0]:.1e} (largest relative gap over the steps run)")

    common.emit({
        "system": "pytorch",
        "versions": {
            "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "openblas": ob["config"] if ob else None, "openblasCore": ob["core"] if ob else None,
            "parallel": torch.__config__.parallel_info().splitlines()[1:3] if hasattr(torch, "__config__") else None,
        },
        "threads": threads,
        "config": common.config_of(args),
        "stepsPerEpoch": steps,
        "points": run["points"],
        "epochSeconds": run["epochSeconds"],
        "notes": notes,
        "stopReason": run["stopReason"],
        "blas": common.blas_info(),
    })


if __name__ == "__main__":
    main()
