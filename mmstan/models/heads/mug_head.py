"""Mug: parameter-free mutual-guided cross-modal alignment (Mug-STAN eqs. 11-18), its
ablation modes, and DRL's weighted token interaction (WTI) for comparison.

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
from torch import Tensor, nn

MODES = ('mug', 'frame_text', 'video_token', 'mean', 'wti')

#: Smallest softmax normaliser the one-exponential path trusts (float32 stays exact far
#: above its 1e-38 underflow); blocks with smaller ones take the two-softmax path.
_MIN_NORMALISER = 1e-30
#: Largest exponent the one-exponential path lets through: exp(70) * 70 * (tokens or
#: frames summed) stays far below float32's 3.4e38.
_MAX_EXPONENT = 70.0
#: Default block size (elements of one ``[texts, K, T, videos]`` block, float32: 64 MB;
#: about three such temporaries live at once). Large enough that the ten or so
#: operator calls of a block amortise their dispatch and thread synchronisation (on a
#: CPU shared with other work, small blocks lose more to waiting threads than they gain
#: from cache; on a GPU, to kernel launches), small enough to keep memory bounded.
DEFAULT_BLOCK = 2 ** 24


def _masked_softmax(logits: Tensor, mask: Optional[Tensor], dim: int) -> Tensor:
    if mask is not None:
        logits = logits.masked_fill(~mask, float('-inf'))
    return torch.softmax(logits, dim=dim)


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
            :data:`DEFAULT_BLOCK`).

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


@MODELS.register_module()
class MugHead(nn.Module):
    """Similarity head between texts and videos.

    Args:
        mode: ``'mug'`` (eqs. 11-18, default); ``'frame_text'`` (the text [EOT] embedding
            stands in for c~, the video side is Mug with that one token); ``'video_token'``
            (the mean frame stands in for v~, the text side is Mug with that one frame);
            ``'mean'`` (CLIP4Clip: cos(text [EOT], mean of frames)); ``'wti'`` (DRL's
            weighted token interaction, with learnable token / frame weights).
        tau: Mug's fixed softmax temperature ([M] §III-C: CLIP's logit scale, 100).
        embed_dim: embedding width E (only ``'wti'`` has parameters that need it).
        block_elements: scoring works on ``[texts, K, T, videos]`` blocks of at most this
            many elements (None: :data:`DEFAULT_BLOCK`), whatever the gallery size.
        drop_sot: leave token position 0, CLIP's start-of-text token [SOT], out of the
            token set of the modes that read tokens (``'mug'``, ``'video_token'``,
            ``'wti'``). Under the causal mask of CLIP's text transformer [SOT] attends
            only to itself, so its output is one and the same vector for every caption
            (a learned constant, not an embedding of the text, which [M] eqs. 11-18 are
            over). At tau = 100 Mug's token softmax (17) is nearly hard: if [SOT] becomes
            the token closest to the frames, c~ = c_[SOT] for every caption, the scores
            stop depending on the text, InfoNCE sits at 2 ln B and the words get no
            gradient (they have ~0 weight), so training cannot leave that state. The
            official head keeps [SOT] (its mask is ``text != 0``), hence the default
            False; random-init training (``configs/demo/synthetic_motion_retrieval.py``)
            needs True. See :meth:`token_mask`.

    Inputs (all L2-normalised inside): text tokens ``[M, K, E]``, token mask ``[M, K]``,
    pooled text ``[M, E]``, frames ``[N, T, E]``.
    """

    def __init__(self, mode: str = 'mug', tau: float = 100.0, embed_dim: int = 512,
                 block_elements: Optional[int] = None, drop_sot: bool = False):
        super().__init__()
        assert mode in MODES, f'mode must be one of {MODES}, got {mode!r}'
        self.mode = mode
        self.tau = tau
        self.block_elements = block_elements
        self.drop_sot = drop_sot
        if mode == 'wti':
            self.text_weight = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.ReLU(inplace=True),
                                             nn.Linear(embed_dim, 1))
            self.video_weight = nn.Sequential(nn.Linear(embed_dim, embed_dim),
                                              nn.ReLU(inplace=True), nn.Linear(embed_dim, 1))

    def token_mask(self, mask: Optional[Tensor], tokens: Tensor) -> Optional[Tensor]:
        """The tokens the head reads: ``mask`` (``[M, K]``, True on real tokens; None: all
        real) without position 0 when ``drop_sot``."""
        if not self.drop_sot:
            return mask
        if mask is None:
            mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        mask = mask.clone()
        mask[:, 0] = False
        return mask

    def forward(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """``[M, N]`` similarity of every text with every video."""
        if self.mode == 'mean':
            video = F.normalize(F.normalize(frames, dim=-1).mean(dim=1), dim=-1)
            return F.normalize(pooled, dim=-1) @ video.T
        mask = self.token_mask(mask, tokens)
        if self.mode == 'wti':
            return self._wti(F.normalize(tokens, dim=-1), mask, F.normalize(frames, dim=-1))
        if self.mode == 'frame_text':
            tokens, mask = pooled[:, None], None
        elif self.mode == 'video_token':
            frames = F.normalize(frames, dim=-1).mean(dim=1, keepdim=True)
        return mug_scores(tokens, mask, frames, self.tau, self.block_elements)

    def _wti(self, tokens: Tensor, mask: Tensor, frames: Tensor) -> Tensor:
        """DRL's weighted token interaction: ``(Σ_j a_j max_i G + Σ_i b_i max_j G) / 2``."""
        g = torch.einsum('mkd,ntd->mnkt', tokens, frames)
        a = _masked_softmax(self.text_weight(tokens).squeeze(-1), mask, dim=-1)   # [M, K]
        b = torch.softmax(self.video_weight(frames).squeeze(-1), dim=-1)          # [N, T]
        t2v = torch.einsum('mnk,mk->mn', g.max(dim=3).values, a)
        masked = g.masked_fill(~mask[:, None, :, None], float('-inf'))
        v2t = torch.einsum('mnt,nt->mn', masked.max(dim=2).values, b)
        return (t2v + v2t) / 2

    @torch.no_grad()
    def gallery(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """The full ``[M, N]`` text x video score matrix, in blocks of bounded size."""
        if self.mode in ('mug', 'frame_text', 'video_token', 'mean'):
            return self(tokens, mask, pooled, frames)   # already blockwise / small
        block = self.block_elements or DEFAULT_BLOCK
        per_text = frames.shape[0] * frames.shape[1] * tokens.shape[1]
        chunk = max(1, block // per_text)
        out = tokens.new_empty(tokens.shape[0], frames.shape[0])
        for i in range(0, tokens.shape[0], chunk):
            out[i:i + chunk] = self(tokens[i:i + chunk], mask[i:i + chunk], pooled[i:i + chunk],
                                    frames)
        return out

    # ---- stage 1 of the search (mmstan.search): one vector per text / per video -------
    # Every mode scores sum_j sum_i a_j b_i c_j . v_i (or a max in place of a sum) with
    # weights a, b that depend on the pair; weights that do not give an inner product.

    @torch.no_grad()
    def stage1_video(self, frames: Tensor) -> Tensor:
        """Frames ``[N, T, E]`` -> ``[N, E]``: the mean normalised frame (``'mean'``,
        ``'video_token'``: the head's own normalised mean frame, exact on the video side;
        ``'mug'``, ``'frame_text'``: Mug's frame weights w_i at their uniform limit,
        tau -> 0); ``'wti'``: the frames under the learned frame weights b_i."""
        frames = F.normalize(frames.float(), dim=-1)
        if self.mode == 'wti':
            weights = torch.softmax(self.video_weight(frames).squeeze(-1), dim=-1)   # [N, T]
            return torch.einsum('nt,nte->ne', weights, frames)
        mean = frames.mean(dim=1)
        return F.normalize(mean, dim=-1) if self.mode in ('mean', 'video_token') else mean

    @torch.no_grad()
    def stage1_text(self, tokens: Tensor, mask: Tensor, pooled: Tensor) -> Tensor:
        """Text features -> ``[M, E]``: the normalised pooled text (``'mean'``: the
        score is then exact; ``'frame_text'``: the head's one token); ``'mug'``,
        ``'video_token'``: the mean real token (Mug's token weights w'_j at tau -> 0);
        ``'wti'``: the tokens under the learned token weights a_j. For WTI the inner
        product is the score with each max over frames / tokens replaced by the other
        side's weighted mean (a lower bound of each term)."""
        if self.mode in ('mean', 'frame_text'):
            return F.normalize(pooled.float(), dim=-1)
        mask = self.token_mask(mask, tokens)  # the tokens the head reads
        tokens = F.normalize(tokens.float(), dim=-1)
        if self.mode == 'wti':
            weights = _masked_softmax(self.text_weight(tokens).squeeze(-1), mask, dim=-1)
        else:
            weights = mask.float() / mask.float().sum(dim=1, keepdim=True).clamp(min=1)
        return torch.einsum('mk,mke->me', weights, tokens)
