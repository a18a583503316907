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

so a whole gallery is one large matrix product for ``G`` and O(K·T) work per pair,
done here for a chunk of texts at a time with bounded memory. Training (a B x B batch)
and testing (the full gallery) run the same code.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn

MODES = ('mug', 'frame_text', 'video_token', 'mean', 'wti')


def _masked_softmax(logits: Tensor, mask: Optional[Tensor], dim: int) -> Tensor:
    if mask is not None:
        logits = logits.masked_fill(~mask, float('-inf'))
    return torch.softmax(logits, dim=dim)


def _mug_block_safe(g: Tensor, mask: Optional[Tensor], tau: float) -> Tensor:
    """Mug with one numerically safe softmax per equation (reference for the fast path)."""
    logits = tau * g
    s = _masked_softmax(logits, mask, dim=2)                        # (11) over tokens
    w = torch.softmax(tau * (s * g).sum(dim=2), dim=-1)             # (13) over frames [M,N,T]
    s_prime = torch.softmax(logits, dim=3)                          # (15) over frames
    token_logits = tau * (s_prime * g).sum(dim=3)                   # (17) [M, N, K]
    w_prime = _masked_softmax(token_logits, None if mask is None else mask[..., 0], dim=-1)
    return torch.einsum('mnk,mnkt,mnt->mn', w_prime, g, w)           # (14, 18)


#: Smallest softmax normaliser the one-exponential fast path trusts (float32 stays exact
#: far above its 1e-38 underflow); blocks with smaller ones take the safe path.
_MIN_NORMALISER = 1e-30


def mug_block(g: Tensor, mask: Optional[Tensor], tau: float) -> Tensor:
    """Mug scores from token-frame cosines.

    The token softmax (11) and the frame softmax (15) share one exponential, shifted by
    each pair's block maximum; if any of their normalisers then gets too small to be
    exact (cosines spread over more than ~0.6 at tau=100), the block is recomputed with
    separately shifted softmaxes. Both give the same numbers.

    Args:
        g: ``[M, N, K, T]`` cosines of M texts' K tokens with N videos' T frames.
        mask: ``[M, 1, K, 1]`` True on real tokens (None: all real).
        tau: softmax temperature (CLIP's logit scale, 100).

    Returns: ``[M, N]`` scores ``c~ · v~``.
    """
    inplace = not (torch.is_grad_enabled() and g.requires_grad)  # gallery scoring: save memory
    x = tau * g
    x = x.sub_(x.amax(dim=(2, 3), keepdim=True)) if inplace else x - x.amax(dim=(2, 3), keepdim=True).detach()
    e = x.exp_() if inplace else x.exp()
    if mask is not None:
        e = e * mask
    over_tokens = e.sum(dim=2)                                        # [M, N, T]
    over_frames = e.sum(dim=3)                                        # [M, N, K]
    if mask is not None:
        over_frames = over_frames.masked_fill(~mask[..., 0], 1.0)
    if min(over_tokens.min(), over_frames.min()) < _MIN_NORMALISER:
        return _mug_block_safe(g, mask, tau)
    eg = e.mul_(g) if inplace else e * g
    w = torch.softmax(tau * eg.sum(dim=2) / over_tokens, dim=-1)      # (11-13) [M, N, T]
    token_logits = tau * eg.sum(dim=3) / over_frames                  # (15-17) [M, N, K]
    w_prime = _masked_softmax(token_logits, None if mask is None else mask[..., 0], dim=-1)
    return torch.einsum('mnk,mnkt,mnt->mn', w_prime, g, w)            # (14, 18)


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
        block_elements: :meth:`gallery` scores as many texts at once as keep the
            ``[texts, N, K, T]`` block under this many elements (2**24: 64 MB per float32
            temporary, about five of which live at once), whatever the gallery size.

    Inputs (all L2-normalised inside): text tokens ``[M, K, E]``, token mask ``[M, K]``,
    pooled text ``[M, E]``, frames ``[N, T, E]``.
    """

    def __init__(self, mode: str = 'mug', tau: float = 100.0, embed_dim: int = 512,
                 block_elements: int = 2 ** 24):
        super().__init__()
        assert mode in MODES, f'mode must be one of {MODES}, got {mode!r}'
        self.mode = mode
        self.tau = tau
        self.block_elements = block_elements
        if mode == 'wti':
            self.text_weight = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.ReLU(inplace=True),
                                             nn.Linear(embed_dim, 1))
            self.video_weight = nn.Sequential(nn.Linear(embed_dim, embed_dim),
                                              nn.ReLU(inplace=True), nn.Linear(embed_dim, 1))

    def forward(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """``[M, N]`` similarity of every text with every video (one chunk; see gallery)."""
        tokens, pooled, frames = (F.normalize(x, dim=-1) for x in (tokens, pooled, frames))
        if self.mode == 'mean':
            return pooled @ F.normalize(frames.mean(dim=1), dim=-1).T
        if self.mode == 'frame_text':
            tokens, mask = pooled[:, None], None
        elif self.mode == 'video_token':
            frames = F.normalize(frames.mean(dim=1), dim=-1)[:, None]
        g = torch.einsum('mkd,ntd->mnkt', tokens, frames)
        if self.mode == 'wti':
            return self._wti(g, mask, tokens, frames)
        return mug_block(g, None if mask is None else mask[:, None, :, None], self.tau)

    def _wti(self, g: Tensor, mask: Tensor, tokens: Tensor, frames: Tensor) -> Tensor:
        """DRL's weighted token interaction: ``(Σ_j a_j max_i G + Σ_i b_i max_j G) / 2``."""
        a = _masked_softmax(self.text_weight(tokens).squeeze(-1), mask, dim=-1)   # [M, K]
        b = torch.softmax(self.video_weight(frames).squeeze(-1), dim=-1)          # [N, T]
        t2v = torch.einsum('mnk,mk->mn', g.max(dim=3).values, a)
        masked = g.masked_fill(~mask[:, None, :, None], float('-inf'))
        v2t = torch.einsum('mnt,nt->mn', masked.max(dim=2).values, b)
        return (t2v + v2t) / 2

    @torch.no_grad()
    def gallery(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """The full ``[M, N]`` text x video score matrix, in blocks of bounded size."""
        per_text = frames.shape[0] * frames.shape[1] * tokens.shape[1]
        chunk = max(1, self.block_elements // per_text)
        out = tokens.new_empty(tokens.shape[0], frames.shape[0])
        for i in range(0, tokens.shape[0], chunk):
            out[i:i + chunk] = self(tokens[i:i + chunk], mask[i:i + chunk], pooled[i:i + chunk],
                                    frames)
        return out
