"""Mug: parameter-free mutual-guided cross-modal alignment (Mug-STAN eqs. 11-18) and its
ablation modes ([M] Table VIII).

All scores of a text with tokens ``c_j`` (``[K, E]``, padding masked) and a video with
frames ``v_i`` (``[T, E]``), both L2-normalised, are functions of that pair's block
``G[j, i] = c_j · v_i``. For Mug, with softmaxes at the fixed temperature ``tau``::

    s_ij   = softmax_j(tau G[j, i])                (11)  frame -> token attention
    w_i    = softmax_i(tau Σ_j s_ij G[j, i])       (12-13) text-guided frame weights
    s'_ij  = softmax_i(tau G[j, i])                (15)  token -> frame attention
    w'_j   = softmax_j(tau Σ_i s'_ij G[j, i])      (16-17) video-guided token weights
    score  = c~ · v~ = Σ_j Σ_i w'_j w_i G[j, i]    (14, 18)

so a whole gallery is one large matrix product for ``G`` plus O(K·T) work per pair.
:func:`mug_scores` does it in blocks of ``[texts, K, T, videos]`` (videos innermost,
so every reduction over tokens or frames is vectorised along contiguous memory), texts
grouped by caption length so that padding is never computed, in bounded memory.
Training (a B x B batch) and the test gallery run the same code, on CPU and GPU.
"""
import math
from typing import Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor

from mmstan.errors import UserError

from .similarity_head import DEFAULT_BLOCK, SimilarityHead, l2_mean_frame

MODES = ('mug', 'frame_text', 'video_token')

#: Smallest softmax normaliser the one-exponential path trusts (float32 stays exact far
#: above its 1e-38 underflow); blocks with smaller ones take the two-softmax path.
_MIN_NORMALISER = 1e-30
#: Largest exponent the one-exponential path lets through: exp(70) * 70 * (tokens or
#: frames summed) stays far below float32's 3.4e38.
_MAX_EXPONENT = 70.0


def mug_block(x: Tensor, shift: float, scratch: Optional[Tensor] = None) -> Tensor:
    """Mug of a block of pairs from their shifted, scaled cosines.

    The token softmax (11) and the frame softmax (15) share one exponential. Softmax
    is shift-invariant, so ``x`` may be shifted by any constant; the constant chosen by
    :func:`mug_scores` keeps ``exp(x)`` finite for any cosine. If a normaliser then
    gets too small to be exact (a frame whose best token, or a token whose best frame,
    has a cosine far below the shift), the block is recomputed by
    :func:`mug_block_two_softmax`. Both give the same numbers.

    Args:
        x: ``[M, K, T, N]`` ``tau * c_j · v_i - shift`` for M texts of K real tokens and
            N videos of T frames (overwritten unless autograd needs it).
        shift: the constant subtracted.
        scratch: memory of x's shape for the exponentials (no-gradient use), or None.

    Returns: ``[M, N]`` ``tau * (c~ · v~)``.
    """
    inplace = not (torch.is_grad_enabled() and x.requires_grad)  # gallery: reuse memory
    e = x.exp() if scratch is None else torch.exp(x, out=scratch)
    over_tokens, over_frames = e.sum(1), e.sum(2)                    # [M, T, N], [M, K, N]
    if min(over_tokens.min(), over_frames.min()) < _MIN_NORMALISER:
        return mug_block_two_softmax(x, shift)
    ex = e.mul_(x) if inplace else e * x
    w = torch.softmax(ex.sum(1) / over_tokens, dim=1)                 # (11-13) [M, T, N]
    w_prime = torch.softmax(ex.sum(2) / over_frames, dim=1)           # (15-17) [M, K, N]
    xw = x.mul_(w[:, None]) if inplace else x * w[:, None]
    return (xw.sum(2) * w_prime).sum(1) + shift                       # (14, 18)


def mug_block_two_softmax(x: Tensor, shift: float) -> Tensor:
    """:func:`mug_block` with one numerically safe softmax per equation."""
    s = torch.softmax(x, dim=1)                                       # (11) over tokens
    w = torch.softmax((s * x).sum(1), dim=1)                          # (12-13) over frames
    s_prime = torch.softmax(x, dim=2)                                 # (15) over frames
    w_prime = torch.softmax((s_prime * x).sum(2), dim=1)              # (16-17) over tokens
    return ((x * w[:, None]).sum(2) * w_prime).sum(1) + shift        # (14, 18)


def _length_groups(mask: Tensor) -> List[Tuple[int, Tensor, Tensor]]:
    """``(L, texts, token positions [len(texts), L])`` for each caption length L."""
    lengths = mask.sum(1)
    real_first = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)
    groups = []
    for length in lengths.unique().tolist():
        texts = (lengths == length).nonzero()[:, 0]
        groups.append((int(length), texts, real_first[texts, :length]))
    return groups


#: Texts are packed (normalised, real tokens only) a super-chunk of at most this many
#: token-embedding elements at a time.
_PACKED_ELEMENTS = 2 ** 23


def _iter_mug(tokens: Tensor, mask: Optional[Tensor], frames: Tensor, tau: float,
              block_elements: int) -> Iterator[Tuple[Tensor, slice, Tensor]]:
    """Yields ``(text rows, video columns, scores [rows, columns])`` covering [M, N]."""
    num_texts, max_len, dim = tokens.shape
    num_videos, num_frames = frames.shape[:2]
    if mask is None:
        mask = torch.ones(num_texts, max_len, dtype=torch.bool, device=tokens.device)
    dtype = torch.promote_types(tokens.dtype, torch.float32)
    shift = max(tau - _MAX_EXPONENT, 0.0)
    # blocks: a square-ish product, [texts x K, E] @ [E, T x videos], within the budget
    per_block = min(num_videos, max(1, math.ceil(math.sqrt(block_elements) / num_frames)))
    # without autograd, every block reuses the same memory for its cosines and
    # exponentials (fresh memory per block costs page faults on CPU)
    work = None
    if not (torch.is_grad_enabled() and (tokens.requires_grad or frames.requires_grad)):
        largest = min(max(block_elements, max_len * num_frames * per_block),
                      num_texts * max_len * num_frames * num_videos)
        work = tokens.new_empty(2, largest, dtype=dtype)
    per_super = max(1, _PACKED_ELEMENTS // (max_len * dim))
    for t0 in range(0, num_texts, per_super):
        groups = []
        for length, texts, positions in _length_groups(mask[t0:t0 + per_super]):
            if length == 0:
                raise ValueError('Mug needs at least one real token per caption (a mask row '
                                 'is all False)')
            chosen = tokens[t0 + texts[:, None], positions].to(dtype)   # [m, L, E] real tokens
            # x = tau * c·v - shift straight from the product: a column of -shift
            # against a column of ones
            packed = chosen.new_full((len(texts), length, dim + 1), -shift)
            packed[..., :dim] = F.normalize(chosen, dim=-1) * tau
            groups.append((length, t0 + texts, packed.view(-1, dim + 1)))
        for v0 in range(0, num_videos, per_block):
            chunk = F.normalize(frames[v0:v0 + per_block].to(dtype), dim=-1)
            videos = chunk.shape[0]
            chunk = torch.cat([chunk, chunk.new_ones(videos, num_frames, 1)], -1)
            chunk = chunk.transpose(0, 1).reshape(num_frames * videos, dim + 1)
            cols = slice(v0, v0 + videos)
            for length, rows, packed in groups:
                texts_per = max(1, block_elements // (length * num_frames * videos))
                for r0 in range(0, len(rows), texts_per):
                    a = packed[r0 * length:(r0 + texts_per) * length]
                    if work is None:
                        x = (a @ chunk.T).view(-1, length, num_frames, videos)
                        yield rows[r0:r0 + texts_per], cols, mug_block(x, shift) / tau
                        continue
                    size = a.shape[0] * chunk.shape[0]
                    x = torch.mm(a, chunk.T, out=work[0, :size].view(a.shape[0], -1))
                    x = x.view(-1, length, num_frames, videos)
                    scratch = work[1, :size].view(x.shape)
                    yield rows[r0:r0 + texts_per], cols, mug_block(x, shift, scratch) / tau


def mug_scores(tokens: Tensor, mask: Optional[Tensor], frames: Tensor, tau: float,
               block_elements: Optional[int] = None) -> Tensor:
    """Mug score (eqs. 11-18) of every text with every video, in bounded memory.

    Args:
        tokens: ``[M, K, E]`` text tokens (normalised here; padding is never read).
        mask: ``[M, K]`` True on real tokens, or None (all real).
        frames: ``[N, T, E]`` frame embeddings (normalised here).
        tau: softmax temperature.
        block_elements: elements of one ``[texts, K, T, videos]`` block (None:
            :data:`DEFAULT_BLOCK`; about three such temporaries live at once).

    Returns: ``[M, N]`` scores (float32 or float64, also under autocast), differentiable.
    """
    block_elements = block_elements or DEFAULT_BLOCK
    dtype = torch.promote_types(tokens.dtype, torch.float32)
    out = tokens.new_zeros(tokens.shape[0], frames.shape[0], dtype=dtype)
    # at least float32 under autocast too: tau * cosine needs more than half precision
    with torch.autocast(tokens.device.type, enabled=False):
        for rows, cols, scores in _iter_mug(tokens, mask, frames, tau, block_elements):
            out[rows, cols] = scores
    return out


#: MugHead's modes before each method got its own head -> that head.
MOVED_MODES = {'mean': 'MeanPHead', 'wti': 'WTIHead'}


@MODELS.register_module()
class MugHead(SimilarityHead):
    """Mug similarity head and its ablations ([M] Table VIII).

    Args:
        mode: ``'mug'`` (eqs. 11-18, default); ``'frame_text'`` (the text [EOT] embedding
            stands in for c~, the video side is Mug with that one token); ``'video_token'``
            (the mean frame stands in for v~, the text side is Mug with that one frame).
            CLIP4Clip's mean pooling is :class:`~mmstan.models.heads.MeanPHead`, DRL's
            weighted token interaction :class:`~mmstan.models.heads.WTIHead` (the former
            modes ``'mean'`` and ``'wti'`` are a ``UserError`` naming them).
        tau: Mug's fixed softmax temperature ([M] §III-C: CLIP's logit scale, 100).
        block_elements: scoring works on ``[texts, K, T, videos]`` blocks of at most this
            many elements (None: :data:`DEFAULT_BLOCK`), whatever the gallery size.
        drop_sot: leave [SOT] (token position 0) out of the token set of the modes that
            read tokens (``'mug'``, ``'video_token'``); see
            :class:`~mmstan.models.heads.similarity_head.SimilarityHead`.
        embed_dim: unused (Mug has no parameters); accepted so that configs which set it
            still build.

    Inputs (all L2-normalised inside): text tokens ``[M, K, E]``, token mask ``[M, K]``,
    pooled text ``[M, E]``, frames ``[N, T, E]``.
    """

    def __init__(self, mode: str = 'mug', tau: float = 100.0, block_elements: Optional[int] = None,
                 drop_sot: bool = False, embed_dim: Optional[int] = None):
        if mode in MOVED_MODES:
            kept = dict(embed_dim=embed_dim, block_elements=block_elements, drop_sot=drop_sot) \
                if mode == 'wti' else {}
            args = ''.join(f', {k}={v!r}' for k, v in kept.items() if v not in (None, False))
            raise UserError(f"MugHead(mode={mode!r}) is now its own head: write "
                            f"dict(type='{MOVED_MODES[mode]}'{args}) in its place in the config"
                            + (' (its checkpoints load unchanged)' if mode == 'wti' else ''))
        if mode not in MODES:
            raise ValueError(f'MugHead: mode must be one of {MODES}, got {mode!r}')
        super().__init__(block_elements, drop_sot)
        self.mode = mode
        self.tau = tau

    def forward(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """``[M, N]`` similarity of every text with every video (blockwise: ``gallery``
        is this without autograd)."""
        mask = self.token_mask(mask, tokens)
        if self.mode == 'frame_text':
            tokens, mask = pooled[:, None], None
        elif self.mode == 'video_token':
            frames = F.normalize(frames, dim=-1).mean(dim=1, keepdim=True)
        return mug_scores(tokens, mask, frames, self.tau, self.block_elements)

    # ---- stage 1 of the search (mmstan.search): one vector per text / per video -------
    # Every mode scores sum_j sum_i w'_j w_i c_j . v_i with softmax weights that depend on
    # the pair; at their uniform limit (tau -> 0) the score is an inner product.

    @torch.no_grad()
    def stage1_video(self, frames: Tensor) -> Tensor:
        """Frames ``[N, T, E]`` -> ``[N, E]``: the mean normalised frame (Mug's frame
        weights w_i at their uniform limit, tau -> 0); ``'video_token'``: the head's own
        normalised mean frame, exact on the video side."""
        if self.mode == 'video_token':
            return l2_mean_frame(frames.float())
        return F.normalize(frames.float(), dim=-1).mean(dim=1)

    @torch.no_grad()
    def stage1_text(self, tokens: Tensor, mask: Tensor, pooled: Tensor) -> Tensor:
        """Text features -> ``[M, E]``: the mean real token the head reads (Mug's token
        weights w'_j at tau -> 0); ``'frame_text'``: the head's one token, the normalised
        pooled text."""
        if self.mode == 'frame_text':
            return F.normalize(pooled.float(), dim=-1)
        mask = self.token_mask(mask, tokens).float()
        weights = mask / mask.sum(dim=1, keepdim=True).clamp(min=1)
        return torch.einsum('mk,mke->me', weights, F.normalize(tokens.float(), dim=-1))
