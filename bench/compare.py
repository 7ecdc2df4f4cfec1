#!/usr/bin/env python3
"""PyTorch side of `make bench-compare`: netc's ResNet-20 (CIFAR) in PyTorch.

    /usr/bin/python3 bench/compare.py --batch 128 --threads 1 --time 2 \
        [--workloads inference,train_step,attack_step,adv_train_step_pgd10] \
        [--precision fp32|bf16-attack|bf16] [--memory-format nchw|channels_last]

Builds exactly the network that netc lowers from specs/resnet20-cifar.spec
(compiler/graph.go): per-channel input normalization inside the model,
conv3x3(3->16)+BN+ReLU stem, three stages of three basic blocks (widths 16,
32, 64; stride 2 and a 1x1 conv + BN shortcut in the first block of stages
2 and 3), ReLU after the residual add, global average pool, Linear(64->10).
It times each workload on synthetic data (pixels uniform in [0,1], random
labels) in PyTorch's eager path (no compile/jit): by default NCHW float32;
--precision bf16-attack runs the PGD passes (and inference) under CPU
autocast to bfloat16, bf16 the training step's too (the optimizer and its
master weights stay float32, as autocast does); --memory-format
channels_last stores the model and the images NHWC. It prints one JSON
line on stdout, in images per second:

    {"impl":"pytorch","version":...,"model":"resnet20cifar","batch":128,
     "threads":1,"precision":"fp32","memory_format":"nchw","inference":F,
     "train_step":F,"attack_step":F,"adv_train_step_pgd10":F}

Workloads (the same work as the netc model binary's `bench`):
  inference             eval-mode forward (running BN statistics), no grad
  train_step            train-mode forward, softmax cross-entropy, backward,
                        SGD (lr 0.05, Nesterov momentum 0.9, weight decay
                        5e-4 on conv/linear weights)
  attack_step           one PGD step: eval-mode forward, cross-entropy,
                        gradient w.r.t. the input only (parameters frozen),
                        sign step 2/255, projection to the 8/255 ball, [0,1]
  adv_train_step_pgd10  PGD-10 from a random start in the ball, then one
                        train_step on the adversarial batch

Each workload runs once to warm up, then repeats until --time seconds have
passed and at least 2 iterations ran (1 for adv_train_step_pgd10). Progress
goes to stderr.
"""

import argparse
import json
import math
import sys
import time

WORKLOADS = ("inference", "train_step", "attack_step", "adv_train_step_pgd10")
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.247, 0.2435, 0.2616)
EPS = 8 / 255
STEP = 2 / 255
PGD_STEPS = 10
LR = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
EXPECTED_PARAMS = 272474

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print("compare.py: PyTorch is not installed for %s (%s): run `make torch`" % (sys.executable, e),
          file=sys.stderr)
    sys.exit(2)


def log(*a):
    print("compare.py:", *a, file=sys.stderr, flush=True)


def conv3x3(cin, cout, stride):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = bn(cout)
        self.conv2 = conv3x3(cout, cout, 1)
        self.bn2 = bn(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), bn(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.downsample is None else self.downsample(x)
        return F.relu(y + s)


class ResNet20(nn.Module):
    """netc's resnet20cifar: depth 20, width 16, basic blocks, BN."""

    def __init__(self, classes=10, width=16, blocks=(3, 3, 3)):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.conv1 = conv3x3(3, width, 1)
        self.bn1 = bn(width)
        layers = []
        cin = width
        for si, n in enumerate(blocks):
            w = width << si
            stage = []
            for bi in range(n):
                stage.append(BasicBlock(cin, w, 2 if (bi == 0 and si > 0) else 1))
                cin = w
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(cin, classes)
        # netc's initialization (compiler/graph.go): He fan-out normal for
        # convs, BN gamma 1 (0 for the last BN of each block), beta 0,
        # fc weight N(0, 0.01), bias 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def make_optimizer(model):
    decay, no_decay = [], []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            decay.append(m.weight)
            if m.bias is not None:
                no_decay.append(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            no_decay += [m.weight, m.bias]
    assert len(decay) + len(no_decay) == len(list(model.parameters()))
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LR, momentum=MOMENTUM, nesterov=True)


def set_requires_grad(model, flag):
    for p in model.parameters():
        p.requires_grad_(flag)


PRECISIONS = ("fp32", "bf16-attack", "bf16")
MEMORY_FORMATS = ("nchw", "channels_last")


class Bench:
    def __init__(self, batch, seed=1, precision="fp32", memory_format="nchw"):
        torch.manual_seed(seed)
        self.batch = batch
        self.model = ResNet20()
        fmt = torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
        self.model = self.model.to(memory_format=fmt)
        self.opt = make_optimizer(self.model)
        self.x = torch.rand(batch, 3, 32, 32).contiguous(memory_format=fmt)
        self.y = torch.randint(0, 10, (batch,))
        self.x_adv = self.x.clone()
        self.attack_bf16 = precision in ("bf16-attack", "bf16")
        self.train_bf16 = precision == "bf16"

    def _autocast(self, on):
        return torch.cpu.amp.autocast(enabled=on, dtype=torch.bfloat16)

    def inference(self):
        self.model.eval()
        with torch.no_grad(), self._autocast(self.attack_bf16):
            return self.model(self.x)

    def _train(self, x):
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        with self._autocast(self.train_bf16):
            loss = F.cross_entropy(self.model(x).float(), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def train_step(self):
        return self._train(self.x)

    def _pgd_step(self, x0, x):
        # Eval mode, parameters frozen by the caller: only d loss / d x.
        x = x.detach().requires_grad_(True)
        with self._autocast(self.attack_bf16):
            loss = F.cross_entropy(self.model(x).float(), self.y)
        (g,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            x = x + STEP * g.sign()
            x = torch.min(torch.max(x, x0 - EPS), x0 + EPS).clamp_(0, 1)
        return x

    def attack_step(self):
        self.model.eval()
        set_requires_grad(self.model, False)
        try:
            self.x_adv = self._pgd_step(self.x, self.x_adv)
        finally:
            set_requires_grad(self.model, True)
        return self.x_adv

    def adv_train_step_pgd10(self):
        x0 = self.x
        self.model.eval()
        set_requires_grad(self.model, False)
        try:
            with torch.no_grad():
                x = (x0 + torch.empty_like(x0).uniform_(-EPS, EPS)).clamp_(0, 1)
            for _ in range(PGD_STEPS):
                x = self._pgd_step(x0, x)
        finally:
            set_requires_grad(self.model, True)
        return self._train(x.detach())


def measure(fn, name, batch, seconds, min_iters):
    t = time.perf_counter()
    fn()  # warm-up
    log("%s: warm-up %.3fs" % (name, time.perf_counter() - t))
    n = 0
    t0 = time.perf_counter()
    while True:
        fn()
        n += 1
        el = time.perf_counter() - t0
        if el >= seconds and n >= min_iters:
            break
    ips = batch * n / el
    log("%s: %d iterations in %.3fs, %.2f ms/iter, %.1f images/s" % (name, n, el, 1e3 * el / n, ips))
    return ips


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--time", type=float, default=2.0, help="seconds per workload (after one warm-up)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of " + ",".join(WORKLOADS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--precision", default="fp32", choices=PRECISIONS,
                    help="bf16-attack: the PGD passes under CPU autocast to bfloat16; bf16: the training step too")
    ap.add_argument("--memory-format", default="nchw", choices=MEMORY_FORMATS)
    a = ap.parse_args()
    wls = [w.strip() for w in a.workloads.split(",") if w.strip()]
    bad = [w for w in wls if w not in WORKLOADS]
    if bad or not wls:
        ap.error("unknown workload(s) %s; choose from %s" % (",".join(bad) or "(none)", ",".join(WORKLOADS)))
    if a.batch < 1 or a.threads < 1 or not (a.time >= 0 and math.isfinite(a.time)):
        ap.error("--batch and --threads must be >= 1 and --time >= 0")

    try:
        torch.set_num_interop_threads(1)
    except RuntimeError as e:
        log("set_num_interop_threads(1): %s" % e)
    torch.set_num_threads(a.threads)

    b = Bench(a.batch, a.seed, a.precision, a.memory_format)
    nparams = sum(p.numel() for p in b.model.parameters())
    log("torch %s, %d intra-op thread(s), %d inter-op; resnet20cifar: %d parameters, batch %d"
        % (torch.__version__, torch.get_num_threads(), torch.get_num_interop_threads(), nparams, a.batch))
    if nparams != EXPECTED_PARAMS:
        log("error: %d parameters, netc's resnet20cifar has %d" % (nparams, EXPECTED_PARAMS))
        sys.exit(1)

    out = {"impl": "pytorch", "version": torch.__version__, "model": "resnet20cifar",
           "batch": a.batch, "threads": a.threads, "precision": a.precision, "memory_format": a.memory_format}
    for w in WORKLOADS:
        if w in wls:
            out[w] = measure(getattr(b, w), w, a.batch, a.time, 1 if w == "adv_train_step_pgd10" else 2)
    print(json.dumps(out, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
