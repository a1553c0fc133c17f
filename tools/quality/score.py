"""score.py - an independent judge of generated digits, trained on real MNIST.

Developer tool: not used by mllab's build or tests, and nothing in the repo needs Python.

    python score.py SAMPLES.npy [--mnist DIR]     # n x 28 x 28 (or n x 784), values in [0, 1]
    python score.py --floor [--mnist DIR]         # 500 held-out real digits, as the floor

Data: MNIST t10k (10,000 digits). The first 8,000 train the judge (as they train the
generators: mllab's data.first=8000); the last 2,000 are held out. A small CNN is trained
once on the 8,000 and cached in /tmp. Prints one JSON line:
  fid            Frechet distance of the CNN's penultimate (128-d) features between the
                 samples and the last 500 held-out digits (indices 9500..9999)
  class_entropy  entropy of the predicted-class histogram / ln 10 (1 = all classes evenly)
  confident      share of samples whose top class probability is >= 0.9
--floor scores held-out digits 8000..8499 (disjoint from the reference 500) the same way.
"""

import argparse
import gzip
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CACHE = "/tmp/mllab-quality-judge-cnn.pt"
REF = slice(9500, 10000)
FLOOR = slice(8000, 8500)


def load_mnist(d):
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x.astype(np.float32) / 255.0, y.astype(np.int64)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, 128)
        self.out = nn.Linear(128, 10)

    def features(self, x):
        h = F.max_pool2d(F.relu(self.c1(x.view(-1, 1, 28, 28))), 2)
        h = F.max_pool2d(F.relu(self.c2(h)), 2)
        return F.relu(self.fc(h.flatten(1)))

    def forward(self, x):
        return self.out(self.features(x))


def judge(x, y):
    net = CNN()
    if os.path.exists(CACHE):
        net.load_state_dict(torch.load(CACHE))
        return net.eval()
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    xt, yt = torch.from_numpy(x[:8000]), torch.from_numpy(y[:8000])
    for epoch in range(8):
        perm = torch.randperm(8000)
        for i in range(0, 8000, 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(net(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        acc = (net(torch.from_numpy(x[8000:])).argmax(1).numpy() == y[8000:]).mean()
    print(json.dumps({"judge_trained": True, "held_out_accuracy": round(float(acc), 4)}))
    torch.save(net.state_dict(), CACHE)
    return net


def fid(a, b):
    """Frechet distance between Gaussians fitted to feature sets a and b (float64)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr sqrt(ca cb) = sum of sqrt of the eigenvalues of sqrt(ca) cb sqrt(ca)
    w, v = np.linalg.eigh(ca)
    sa = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = np.linalg.eigvalsh(sa @ cb @ sa)
    tr = np.sqrt(np.clip(ev, 0, None)).sum()
    return float(((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * tr)


def score(net, samples, ref):
    with torch.no_grad():
        s = torch.from_numpy(np.ascontiguousarray(samples, np.float32).reshape(-1, 784))
        fs, logits = net.features(s), None
        logits = net.out(fs)
        fr = net.features(torch.from_numpy(ref.reshape(-1, 784)))
    p = torch.softmax(logits, 1).numpy()
    counts = np.bincount(p.argmax(1), minlength=10) / len(p)
    nz = counts[counts > 0]
    return {
        "n": len(p),
        "fid": round(fid(fs.numpy(), fr.numpy()), 2),
        "class_entropy": round(float(-(nz * np.log(nz)).sum() / math.log(10)), 4),
        "confident": round(float((p.max(1) >= 0.9).mean()), 4),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="?")
    ap.add_argument("--floor", action="store_true")
    ap.add_argument("--mnist", default="/work/shared/data/mnist")
    a = ap.parse_args()
    torch.set_num_threads(2)
    x, y = load_mnist(a.mnist)
    net = judge(x, y)
    if a.floor:
        out = score(net, x[FLOOR], x[REF])
        out["what"] = "500 held-out real digits (8000..8499)"
    else:
        s = np.load(a.samples)
        if s.min() < -1e-3 or s.max() > 1 + 1e-3:
            raise SystemExit(f"{a.samples}: values must be in [0, 1], found {s.min()}..{s.max()}")
        out = score(net, np.clip(s, 0, 1), x[REF])
        out["what"] = a.samples
    print(json.dumps(out))


if __name__ == "__main__":
    main()
