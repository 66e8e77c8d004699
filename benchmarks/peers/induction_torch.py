"""PEER: a plain PyTorch (eager) implementation of the induction-head toy network and its data.

Used only by ``benchmarks/induction_training.py`` as the comparison point for cogsim's training speed. It
mirrors :mod:`cogsim.models.induction` (network) and :mod:`cogsim.tasks.reddy_sequences` (data) for the
uniform-class (``alpha = 0``), fully bursty (``p_B = 1``, ``p_C = 0``) task with distinct labels per context:
the same token layout (one-hot position after a random shift, then the content), the same two causal
attention-only layers without score scaling, the same three-layer ReLU classifier on the last token, the same
initialisation scales and the same SGD update ``p <- (1 - wd) p - lr * grad``. Written the way a researcher
would write it in eager PyTorch: a fresh batch generated on every step, no compilation. torch is an optional
benchmark dependency. ``device`` puts the data, the sampler and the network on a CUDA device (``"cuda"``) for
the comparison on a GPU.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Task:
    """Class means ``[K, D]`` and label vectors ``[L, D]`` plus the sequence sampler."""

    def __init__(self, *, K=512, L=32, N=8, D=63, N_max=32, B=2, eps=0.1, generator=None, device="cpu"):
        self.K, self.L, self.N, self.D, self.N_max, self.B, self.eps = K, L, N, D, N_max, B, eps
        self.g, self.dev = generator, device
        s = 1.0 / math.sqrt(D)
        self.means = torch.randn(K, D, generator=generator, device=device) * s
        self.label_vecs = torch.randn(L, D, generator=generator, device=device) * s
        self.P = 2 * N_max + 1
        self.T = 2 * N + 1

    @property
    def token_dim(self) -> int:
        return self.P + self.D

    def sample(self, bs: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens ``[bs, 2N+1, P+D]`` and target labels ``[bs]`` of bursty sequences."""
        N, B, L, K, D, g, dev = self.N, self.B, self.L, self.K, self.D, self.g, self.dev
        n_ctx = N // B
        labels = torch.argsort(torch.rand(bs, L, generator=g, device=dev), dim=1)[:, :n_ctx]  # distinct
        cls = torch.randint(0, K // L, (bs, n_ctx), generator=g, device=dev) * L + labels
        order = torch.argsort(torch.rand(bs, N, generator=g, device=dev), dim=1)
        slots = (torch.arange(N, device=dev) // B)[order]
        ctx_cls = cls.gather(1, slots)
        q_pos = torch.randint(0, N, (bs, 1), generator=g, device=dev)
        q_cls = ctx_cls.gather(1, q_pos)[:, 0]
        scale = 1.0 / math.sqrt(1.0 + self.eps**2)
        e, r = self.eps, math.sqrt(D)
        items = (self.means[ctx_cls] + e * torch.randn(bs, N, D, generator=g, device=dev) / r) * scale
        query = (self.means[q_cls] + e * torch.randn(bs, D, generator=g, device=dev) / r) * scale
        labs = self.label_vecs[labels.gather(1, slots)]
        content = torch.cat([torch.stack([items, labs], 2).reshape(bs, 2 * N, D), query[:, None]], 1)
        shift = torch.randint(0, self.P - self.T + 1, (bs, 1), generator=g, device=dev)
        pos = torch.zeros(bs, self.T, self.P, device=dev)
        pos.scatter_(2, (torch.arange(self.T, device=dev)[None] + shift)[..., None], 1.0)
        return torch.cat([pos, content], -1), q_cls % L


class InductionNet(nn.Module):
    """Two causal single-head attention-only layers with residuals, then a ReLU classifier (last token)."""

    def __init__(self, d: int, L: int, *, D: int, n_layers: int = 2, mlp_layers: int = 3):
        super().__init__()
        s = 1.0 / math.sqrt(D)
        self.attn = nn.ParameterList()
        for _ in range(n_layers):
            for _ in range(3):
                self.attn.append(nn.Parameter(torch.randn(d, d) * s))
        self.mlp_w = nn.ParameterList(
            [nn.Parameter(torch.randn(d, d) * math.sqrt(2.0 / d)) for _ in range(mlp_layers)]
        )
        self.mlp_b = nn.ParameterList([nn.Parameter(torch.zeros(d)) for _ in range(mlp_layers)])
        self.readout = nn.Parameter(torch.randn(d, L) / math.sqrt(d))
        self.n_layers = n_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), 1)
        for i in range(self.n_layers):
            wq, wk, wv = self.attn[3 * i], self.attn[3 * i + 1], self.attn[3 * i + 2]
            s = (x @ wq) @ (x @ wk).transpose(1, 2)
            p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
            x = x + p @ (x @ wv)
        h = x[:, -1]
        for w, b in zip(self.mlp_w, self.mlp_b, strict=False):
            h = torch.relu(h @ w + b)
        return h @ self.readout


def make(
    seed: int = 0, *, K=512, L=32, N=8, D=63, N_max=32, B=2, eps=0.1, lr=0.01, weight_decay=1e-6, device="cpu"
):
    """Task, network and a ``step(batch_size) -> loss`` closure (one SGD update on a fresh batch)."""
    g = torch.Generator(device=device).manual_seed(seed)
    torch.manual_seed(seed)
    task = Task(K=K, L=L, N=N, D=D, N_max=N_max, B=B, eps=eps, generator=g, device=device)
    net = InductionNet(task.token_dim, L, D=D).to(device)
    # weight_decay / lr inside SGD gives p <- (1 - wd) p - lr g, the update of the original code
    opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=weight_decay / lr)
    loss_fn = nn.CrossEntropyLoss()

    def step(bs: int = 128) -> float:
        x, y = task.sample(bs)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    return task, net, step
