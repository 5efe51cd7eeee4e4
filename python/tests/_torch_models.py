"""Small models for the paraminit.torch tests (test_torch_module.py, test_distributed.py)."""
import torch
from torch import nn


class Block(nn.Module):
    """A GPT-2 block: LayerNorm, MultiheadAttention, LayerNorm, MLP of two Linear. `reverse` registers
    the same submodules (same names) in the opposite order."""

    def __init__(self, d, heads, reverse=False):
        super().__init__()
        make = [
            ("ln_1", lambda: nn.LayerNorm(d)),
            ("attn", lambda: nn.MultiheadAttention(d, heads, batch_first=True)),
            ("ln_2", lambda: nn.LayerNorm(d)),
            ("mlp", lambda: nn.Sequential()),
        ]
        for name, f in (reversed(make) if reverse else make):
            setattr(self, name, f())
        fc = [("c_fc", lambda: nn.Linear(d, 4 * d)), ("act", lambda: nn.GELU()), ("c_proj", lambda: nn.Linear(4 * d, d))]
        for name, f in (reversed(fc) if reverse else fc):
            self.mlp.add_module(name, f())

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp.c_proj(self.mlp.act(self.mlp.c_fc(self.ln_2(x))))


class TinyGPT(nn.Module):
    def __init__(self, vocab=50, ctx=16, d=32, heads=4, layers=2, reverse=False, tied=True):
        super().__init__()
        make = [
            ("wte", lambda: nn.Embedding(vocab, d)),
            ("wpe", lambda: nn.Embedding(ctx, d)),
            ("h", lambda: nn.ModuleList([Block(d, heads, reverse) for _ in range(layers)])),
            ("ln_f", lambda: nn.LayerNorm(d)),
            ("lm_head", lambda: nn.Linear(d, vocab, bias=False)),
        ]
        for name, f in (reversed(make) if reverse else make):
            setattr(self, name, f())
        if tied:
            self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.h:
            x = b(x)
        return self.lm_head(self.ln_f(x))


class EncoderNet(nn.Module):
    """nn.TransformerEncoderLayer-based: Embedding (with a padding row), 2 encoder layers, a head."""

    def __init__(self, vocab=40, d=24, heads=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, d, padding_idx=0)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, heads, 48, batch_first=True), 2, enable_nested_tensor=False)
        self.head = nn.Linear(d, 5)


class ConvNet(nn.Module):
    def __init__(self, reverse=False):
        super().__init__()
        make = [
            ("conv1", lambda: nn.Conv2d(3, 16, 3, padding=1)),
            ("bn1", lambda: nn.BatchNorm2d(16)),
            ("conv2", lambda: nn.Conv2d(16, 32, 3, padding=1, groups=4)),
            ("bn2", lambda: nn.BatchNorm2d(32)),
            ("conv1d", lambda: nn.Conv1d(32, 8, 5)),
            ("bn1d", lambda: nn.BatchNorm1d(8)),
            ("conv3d", lambda: nn.Conv3d(2, 4, (3, 3, 3))),
            ("up", lambda: nn.ConvTranspose2d(32, 12, 4, stride=2, groups=2)),
            ("gn", lambda: nn.GroupNorm(4, 12)),
            ("fc", lambda: nn.Linear(32 * 4 * 4, 10)),
        ]
        for name, f in (reversed(make) if reverse else make):
            setattr(self, name, f())


class RNNs(nn.Module):
    def __init__(self, reverse=False):
        super().__init__()
        make = [
            ("lstm", lambda: nn.LSTM(12, 20, num_layers=2, bidirectional=True)),
            ("gru", lambda: nn.GRU(12, 16, num_layers=1)),
            ("proj", lambda: nn.LSTM(8, 24, proj_size=6)),
            ("cell", lambda: nn.LSTMCell(10, 14)),
        ]
        for name, f in (reversed(make) if reverse else make):
            setattr(self, name, f())
