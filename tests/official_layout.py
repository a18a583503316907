"""A tiny model with the official STAN code's exact key layout, and its forward pass
written from the official code's equations with plain torch ops.

The official retriever (github farewellthree/STAN, ``CLIPSimilarity_split``) holds
``backbone`` (``VITCLIPPretrained_STAN``: the parts of a Hugging Face ``CLIPModel`` kept as
its own attributes, plus ``STAN_S_layers``, ``STAN_T_layers``, ``STAN_time_embed``),
``text_backbone`` (``CLIPTextPretrained``: HF ``text_model`` + ``text_projection``) and
``adapter`` (``Mug_head``, parameter-free in the released configs). The modules below are
named as those classes and HF's CLIP layers name their parts, so ``state_dict()`` gives the
official keys. Nothing here imports mmstan: the reference forward is independent of the
code under test.
"""
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: The tiny CLIP of tests/conftest.py (TINY_ARCH) with OpenAI's QuickGELU, as the
#: official (HF, OpenAI-initialised) models use.
WIDTH, LAYERS, PATCH, IMAGE, HEADS, MLP = 64, 2, 8, 32, 2, 128
TEXT_WIDTH, TEXT_HEADS, TEXT_MLP, CONTEXT, VOCAB = 64, 2, 256, 32, 49408
EMBED, DEPTH, TIME_ROWS = 64, 2, 64
GRID = IMAGE // PATCH
ARCH = dict(
    embed_dim=EMBED, quick_gelu=True,
    vision_cfg=dict(image_size=IMAGE, patch_size=PATCH, width=WIDTH, layers=LAYERS,
                    head_width=WIDTH // HEADS, mlp_ratio=MLP / WIDTH),
    text_cfg=dict(context_length=CONTEXT, vocab_size=VOCAB, width=TEXT_WIDTH, heads=TEXT_HEADS,
                  layers=LAYERS))


# ----------------------------------------------------------------------------------------
# Modules named like the official classes (weights only; no forward needed)
# ----------------------------------------------------------------------------------------
class CLIPAttention(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(width, width) for _ in range(4))


class CLIPMLP(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, hidden), nn.Linear(hidden, width)


class CLIPEncoderLayer(nn.Module):
    """HF ``CLIPEncoderLayer``; ``CLIPLayer_Spatial`` has the same parameter names."""

    def __init__(self, width, hidden):
        super().__init__()
        self.self_attn = CLIPAttention(width)
        self.layer_norm1 = nn.LayerNorm(width)
        self.mlp = CLIPMLP(width, hidden)
        self.layer_norm2 = nn.LayerNorm(width)


class CLIPLayer_AttnTime(nn.Module):  # noqa: N801  (the official class name)
    def __init__(self, width):
        super().__init__()
        self.self_attn = CLIPAttention(width)
        self.layer_norm1 = nn.LayerNorm(width)
        self.temporal_fc = nn.Linear(width, width)


class VITCLIPPretrained_STAN(nn.Module):  # noqa: N801
    def __init__(self, depth=DEPTH):
        super().__init__()
        self.class_embedding = nn.Parameter(torch.zeros(WIDTH))
        self.patch_embedding = nn.Conv2d(3, WIDTH, PATCH, PATCH, bias=False)
        self.position_embedding = nn.Embedding(GRID * GRID + 1, WIDTH)
        self.pre_layrnorm = nn.LayerNorm(WIDTH)
        self.post_layernorm = nn.LayerNorm(WIDTH)
        self.layers = nn.ModuleList([CLIPEncoderLayer(WIDTH, MLP) for _ in range(LAYERS)])
        self.visual_projection = nn.Linear(WIDTH, EMBED, bias=False)
        self.STAN_S_layers = nn.ModuleList([CLIPEncoderLayer(WIDTH, MLP) for _ in range(depth)])
        self.STAN_T_layers = nn.ModuleList([CLIPLayer_AttnTime(WIDTH) for _ in range(depth)])
        self.STAN_time_embed = nn.Embedding(TIME_ROWS, WIDTH)
        self.drop_after_pos, self.drop_after_time = nn.Dropout(0), nn.Dropout(0)


class CLIPTextEmbeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB, TEXT_WIDTH)
        self.position_embedding = nn.Embedding(CONTEXT, TEXT_WIDTH)


class CLIPEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(TEXT_WIDTH, TEXT_MLP) for _ in range(LAYERS)])


class CLIPTextTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = CLIPTextEmbeddings()
        self.encoder = CLIPEncoder()
        self.final_layer_norm = nn.LayerNorm(TEXT_WIDTH)


class CLIPTextPretrained(nn.Module):
    def __init__(self):
        super().__init__()
        self.text_model = CLIPTextTransformer()
        self.text_projection = nn.Linear(TEXT_WIDTH, EMBED, bias=False)


class Mug_head(nn.Module):  # noqa: N801  ('mug_frame_token_simple': no parameters)
    pass


class CLIPSimilarity_split(nn.Module):  # noqa: N801
    def __init__(self, depth=DEPTH):
        super().__init__()
        self.backbone = VITCLIPPretrained_STAN(depth)
        self.text_backbone = CLIPTextPretrained()
        self.adapter = Mug_head()


def official_state(seed: int = 0, depth: int = DEPTH) -> dict:
    """The official retriever's state dict with random weights (nothing zero, so every
    tensor, ``temporal_fc`` included, shows in the outputs)."""
    torch.manual_seed(seed)
    model = CLIPSimilarity_split(depth)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if isinstance(dict(model.named_modules())[name.rsplit('.', 1)[0]], nn.LayerNorm):
                param.normal_(1.0 if name.endswith('weight') else 0.0, 0.1)
            elif 'embedding' in name or 'embed' in name:
                param.normal_(0.0, 0.5)
            else:
                param.normal_(0.0, 1.0 / math.sqrt(param.shape[-1]) if param.dim() > 1 else 0.1)
    return model.state_dict()


# ----------------------------------------------------------------------------------------
# Reference forward on the official state dict (plain torch ops)
# ----------------------------------------------------------------------------------------
def _ln(s, p, x):
    return F.layer_norm(x, x.shape[-1:], s[p + 'weight'], s[p + 'bias'], eps=1e-5)


def _lin(s, p, x):
    return F.linear(x, s[p + 'weight'], s.get(p + 'bias'))


def _attention(s, p, x, heads, causal=False):
    """HF ``CLIPAttention`` over ``[N, S, D]``: q scaled by head_dim**-0.5, softmax, out_proj."""
    n, length, d = x.shape
    hd = d // heads

    def split(t):
        return t.reshape(n, length, heads, hd).transpose(1, 2)

    q = split(_lin(s, p + 'q_proj.', x) * hd ** -0.5)
    k, v = split(_lin(s, p + 'k_proj.', x)), split(_lin(s, p + 'v_proj.', x))
    logits = q @ k.transpose(-1, -2)
    if causal:
        logits = logits + torch.full((length, length), float('-inf'), dtype=x.dtype).triu(1)
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(n, length, d)
    return _lin(s, p + 'out_proj.', out)


def _mlp(s, p, x):
    h = _lin(s, p + 'fc1.', x)
    return _lin(s, p + 'fc2.', h * torch.sigmoid(1.702 * h))  # quick_gelu


def _encoder_layer(s, p, x, heads, causal=False):
    x = x + _attention(s, p + 'self_attn.', _ln(s, p + 'layer_norm1.', x), heads, causal)
    return x + _mlp(s, p + 'mlp.', _ln(s, p + 'layer_norm2.', x))


def _input_ini(s, p, x, b):
    """``VITCLIPPretrained_STAN.input_ini`` on ``x [b, t, 1+l, d]`` -> ``[b, 1 + l*t, d]``."""
    cls_old = x[:, :, 0].mean(dim=1, keepdim=True)
    x = x[:, :, 1:]
    _, t, n, d = x.shape
    x = x.reshape(b * t, n, d)
    x = torch.cat([s[p + 'class_embedding'].expand(b * t, 1, d), x], dim=1)
    x = x + s[p + 'position_embedding.weight'][:n + 1]
    cls = x[:b, 0].unsqueeze(1)
    x = x[:, 1:].reshape(b, t, n, d).permute(0, 2, 1, 3).reshape(b * n, t, d)  # (b l) t d
    x = x + s[p + 'STAN_time_embed.weight'][:t]
    x = x.reshape(b, n, t, d).reshape(b, n * t, d)  # b (l t) d
    return torch.cat([(cls_old + cls) / 2, x], dim=1)


def _attn_time(s, p, x, t, heads):
    """``CLIPLayer_AttnTime`` on ``[b, 1 + p*t, d]`` (patch-major ``(p t)``)."""
    cls, query = x[:, :1], x[:, 1:]
    b, pt, d = query.shape
    h = query.reshape(b * (pt // t), t, d)
    h = _attention(s, p + 'self_attn.', _ln(s, p + 'layer_norm1.', h), heads)
    h = _lin(s, p + 'temporal_fc.', h)
    return torch.cat([cls, query + h.reshape(b, pt, d)], dim=1)


def _spatial(s, p, x, t, heads):
    """``CLIPLayer_Spatial`` on ``[b, 1 + p*t, d]``: CLS per frame, averaged back; MLP on all."""
    cls, query = x[:, :1], x[:, 1:]
    b, pt, d = query.shape
    n = pt // t
    frames = query.reshape(b, n, t, d).transpose(1, 2).reshape(b * t, n, d)  # (b t) p d
    h = torch.cat([cls.unsqueeze(1).repeat(1, t, 1, 1).reshape(b * t, 1, d), frames], dim=1)
    h = _attention(s, p + 'self_attn.', _ln(s, p + 'layer_norm1.', h), heads)
    res_cls = h[:, :1].reshape(b, t, 1, d).mean(dim=1)
    res = h[:, 1:].reshape(b, t, n, d).transpose(1, 2).reshape(b, n * t, d)  # b (p t) d
    x = x + torch.cat([res_cls, res], dim=1)
    return x + _mlp(s, p + 'mlp.', _ln(s, p + 'layer_norm2.', x))


def official_video(s: dict, video: Tensor, depth: int = DEPTH, prefix: str = 'backbone.') -> Tensor:
    """``VITCLIPPretrained_STAN`` with ``return_mean=False``: ``[B, 3, T, H, W] -> [B, T, E]``."""
    p = prefix
    b, _, t, h, w = video.shape
    x = video.permute(0, 2, 1, 3, 4).reshape(b * t, 3, h, w)
    x = F.conv2d(x, s[p + 'patch_embedding.weight'], stride=PATCH).flatten(2).transpose(1, 2)
    x = torch.cat([s[p + 'class_embedding'].expand(b * t, 1, -1), x], dim=1)
    x = _ln(s, p + 'pre_layrnorm.', x + s[p + 'position_embedding.weight'])
    total = len({k[len(p + 'layers.'):].split('.')[0] for k in s if k.startswith(p + 'layers.')})
    x2 = None
    for idx in range(total):
        x = _encoder_layer(s, f'{p}layers.{idx}.', x, HEADS)
        if idx >= total - depth:
            k = idx + depth - total
            x1 = x.reshape(b, t, *x.shape[1:])
            if x2 is None:
                y = _input_ini(s, p, x1, b)
            else:
                patches = x1[:, :, 1:].transpose(1, 2).reshape(b, -1, x.shape[-1])  # b (l t) d
                y = x2 + torch.cat([x1[:, :, 0].mean(dim=1, keepdim=True), patches], dim=1)
            y = _attn_time(s, f'{p}STAN_T_layers.{k}.', y, t, HEADS)
            x2 = _spatial(s, f'{p}STAN_S_layers.{k}.', y, t, HEADS)
    cls = x[:, 0] + x2[:, 0].repeat(1, t).view(b * t, -1)
    cls = _ln(s, p + 'post_layernorm.', cls)
    return _lin(s, p + 'visual_projection.', cls).reshape(b, t, -1)


def official_text(s: dict, ids: Tensor, prefix: str = 'text_backbone.'):
    """``CLIPTextPretrained(all_proj=True)`` (HF ``CLIPTextTransformer``, causal mask,
    argmax pooling): ``[B, K]`` ids -> ``(tokens [B, K, E], pooled [B, E])``."""
    m = prefix + 'text_model.'
    x = s[m + 'embeddings.token_embedding.weight'][ids]
    x = x + s[m + 'embeddings.position_embedding.weight'][:ids.shape[1]]
    for i in range(LAYERS):
        x = _encoder_layer(s, f'{m}encoder.layers.{i}.', x, TEXT_HEADS, causal=True)
    x = _ln(s, m + 'final_layer_norm.', x)
    pooled = x[torch.arange(ids.shape[0]), ids.argmax(dim=-1)]
    proj = prefix + 'text_projection.'
    return _lin(s, proj, x), _lin(s, proj, pooled)
