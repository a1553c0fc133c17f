"""torch_quality.py - the PyTorch side of the quality comparison on real MNIST.

Developer tool: not used by mllab's build or tests, and nothing in the repo needs Python.

    python torch_quality.py vae|gan|flow --seconds S --out samples.npy [--mnist DIR]

Trains the bench's reference architecture (the same layer shapes as mllab's bench models) for
S wall-clock seconds of training on 2 threads, on the first 8,000 MNIST t10k digits (mllab's
data.first=8000), evaluates on the last 2,000 (mllab's held-out split for first=8000), writes
500 samples in [0, 1] as an n x 28 x 28 .npy for score.py, and prints one JSON line.

  vae   784-400-(2x20), 20-400-784, Bernoulli; Adam 1e-3, batch 128; each training batch
        binarised afresh, held-out binarised once (fixed seed); test -ELBO in nats/image
        (one z per image), as mllab's vae lesson computes it.
  gan   G 64-256-512-784 (LeakyReLU 0.2, tanh), D 784-512-256-1; Adam 2e-4, betas (0.5,
        0.999), batch 128, non-saturating; one D step + one G step per step.
  flow  RealNVP, 8 affine checkerboard couplings, separate s and t nets 784-512-512-784,
        s = tanh(S) * exp(scale); pixels dequantised (k + u)/256, squeezed
        w = a + (1 - 2a) v with a = 0.05, logit; bits/dim count both Jacobians plus 8 bits,
        exactly as mllab's flow lesson (src/models/flow/pixels.rs); held-out dequantised once.
"""

import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PIX = 784


def load(d):
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, PIX)
    return x[:8000], x[8000:10000]  # train, held out


# ------------------------------------------------------------------ the three models

class VAE(nn.Module):
    def __init__(self, z=20, h=400):
        super().__init__()
        self.z = z
        self.e1, self.e2 = nn.Linear(PIX, h), nn.Linear(h, 2 * z)
        self.d1, self.d2 = nn.Linear(z, h), nn.Linear(h, PIX)

    def terms(self, x, eps):
        mu, logvar = self.e2(F.relu(self.e1(x))).chunk(2, 1)
        logits = self.d2(F.relu(self.d1(mu + eps * torch.exp(0.5 * logvar))))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return rec, kl


def mlp(sizes, act, last=None):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    if last:
        layers.append(last())
    return nn.Sequential(*layers)


def leaky():
    return nn.LeakyReLU(0.2)


class Coupling(nn.Module):
    def __init__(self, parity, h=512):
        super().__init__()
        i = torch.arange(28)
        self.register_buffer("m", ((i[:, None] + i[None, :]) % 2 == parity).float().reshape(1, PIX))
        self.s, self.t = mlp([PIX, h, h, PIX], nn.ReLU), mlp([PIX, h, h, PIX], nn.ReLU)
        self.scale = nn.Parameter(torch.zeros(1, PIX))

    def st(self, xm):
        inv = 1 - self.m
        return torch.tanh(self.s(xm)) * self.scale.exp() * inv, self.t(xm) * inv

    def forward(self, x):
        xm = x * self.m
        s, t = self.st(xm)
        return xm + (1 - self.m) * (x * s.exp() + t), s.sum(1)

    def inverse(self, y):
        ym = y * self.m
        s, t = self.st(ym)
        return ym + (1 - self.m) * ((y - t) * (-s).exp())


class RealNVP(nn.Module):
    def __init__(self, n=8):
        super().__init__()
        self.layers = nn.ModuleList([Coupling(k % 2) for k in range(n)])

    def nll(self, y):  # -ln p(y) per row
        ld = torch.zeros(y.shape[0])
        for c in self.layers:
            y, l = c(y)
            ld = ld + l
        return 0.5 * (y.pow(2).sum(1) + PIX * math.log(2 * math.pi)) - ld


ALPHA = 0.05


def to_logits(levels, u):
    """levels (uint8 as float) and noise u in [0,1): y and sum ln|dy/dv| per row."""
    w = ALPHA + (1 - 2 * ALPHA) * (levels + u) / 256.0
    y = torch.log(w) - torch.log1p(-w)
    jac = (math.log(1 - 2 * ALPHA) - torch.log(w) - torch.log1p(-w)).sum(1)
    return y, jac


def bits(nll_y, jac):
    return (nll_y - jac) / (PIX * math.log(2)) + 8.0


# ------------------------------------------------------------------ training for S seconds

def run(kind, seconds, out, mnist):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1234)  # fixed held-out binarisation / dequantisation
    tr, te = load(mnist)
    grey = torch.from_numpy(tr.astype(np.float32) / 255.0)
    levels = torch.from_numpy(tr.astype(np.float32))
    n = len(tr)
    b = 128
    if kind == "vae":
        m = VAE()
        opt = torch.optim.Adam(m.parameters(), 1e-3)
        test = torch.bernoulli(torch.from_numpy(te.astype(np.float32) / 255.0), generator=g)

        def step(idx):
            rec, kl = m.terms(torch.bernoulli(grey[idx]), torch.randn(len(idx), m.z))
            loss = (rec + kl).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    elif kind == "gan":
        G = mlp([64, 256, 512, PIX], leaky, nn.Tanh)
        D = mlp([PIX, 512, 256, 1], leaky)
        oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
        oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
        real_all = grey * 2 - 1
        ones, zeros = torch.ones(b, 1), torch.zeros(b, 1)

        def step(idx):
            real = real_all[idx]
            fake = G(torch.randn(len(idx), 64))
            dl = (F.binary_cross_entropy_with_logits(D(real), ones[:len(idx)])
                  + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros[:len(idx)]))
            oD.zero_grad(set_to_none=True)
            dl.backward()
            oD.step()
            gl = F.binary_cross_entropy_with_logits(D(fake), ones[:len(idx)])
            oG.zero_grad(set_to_none=True)
            gl.backward()
            oG.step()
    else:
        m = RealNVP()
        opt = torch.optim.Adam(m.parameters(), args.lr)
        tl = torch.from_numpy(te.astype(np.float32))
        ty, tj = to_logits(tl, torch.rand(tl.shape, generator=g))

        def step(idx):
            y, j = to_logits(levels[idx], torch.rand(len(idx), PIX))
            loss = bits(m.nll(y), j).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        perm = torch.randperm(n)
        for i in range(0, n - b + 1, b):
            step(perm[i:i + b])
            steps += 1
            if time.perf_counter() - t0 >= seconds:
                break
    wall = time.perf_counter() - t0

    res = {"model": kind, "seconds": seconds, "train_wall_s": round(wall, 1), "steps": steps}
    with torch.no_grad():
        zg = torch.Generator().manual_seed(7)
        if kind == "vae":
            tot = 0.0
            eg = torch.Generator().manual_seed(99)
            for i in range(0, len(test), 500):
                x = test[i:i + 500]
                rec, kl = m.terms(x, torch.randn(len(x), m.z, generator=eg))
                tot += (rec + kl).sum().item()
            res["test_neg_elbo"] = round(tot / len(test), 3)
            s = torch.sigmoid(m.d2(F.relu(m.d1(torch.randn(500, m.z, generator=zg)))))
        elif kind == "gan":
            s = (G(torch.randn(500, 64, generator=zg)) + 1) / 2
        else:
            tot = 0.0
            for i in range(0, len(ty), 500):
                tot += bits(m.nll(ty[i:i + 500]), tj[i:i + 500]).sum().item()
            res["test_bits_per_dim"] = round(tot / len(ty), 4)
            z = torch.randn(500, PIX, generator=zg)
            for c in reversed(m.layers):
                z = c.inverse(z)
            w = torch.sigmoid(z)
            s = ((w - ALPHA) / (1 - 2 * ALPHA)).clamp(0, 1)
    s = torch.nan_to_num(s, 0.0).clamp(0, 1)
    np.save(out, s.reshape(-1, 28, 28).numpy().astype(np.float32))
    res["samples"] = out
    print(json.dumps(res))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["vae", "gan", "flow"])
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lr", type=float, default=1e-4, help="flow only")
    ap.add_argument("--mnist", default="/work/shared/data/mnist")
    args = ap.parse_args()
    run(args.model, args.seconds, args.out, args.mnist)
