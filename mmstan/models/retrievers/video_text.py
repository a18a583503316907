"""Video-text retrieval model: video tower (CLIP-STAN or mean pooling) + CLIP text tower
+ similarity head (Mug or its ablations, meanP, WTI, ...), trained with symmetric InfoNCE."""
import inspect
import math
from typing import Dict, List, Optional, Tuple

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModel
from torch import Tensor, nn

from ..clip import CLIPText, load_clip_from_config
from ..losses import distributed_world, gather_with_grad, local_infonce
from ..precision import float32_region, upcast


@MODELS.register_module()
class VideoTextRetriever(BaseModel):
    """Args:
        clip: the one open_clip model of the retriever, ``dict(arch=..., pretrained=...)``
            (see :func:`mmstan.models.clip.load_clip`): built once, its vision tower goes
            to the backbone and its text tower encodes captions.
        backbone: video backbone config returning ``[B, T, E]`` frame embeddings
            (``CLIPSTAN`` or ``CLIPMeanPool``, without ``arch``/``pretrained``).
        text_frozen_layers: freeze the token embedding and the first N text layers
            (-1: the whole text tower).
        head: similarity head config (``MugHead``, ``MeanPHead``, ``WTIHead``,
            ``SeqTransfHead``, ``CLIP2VideoHead``; the protocol in :mod:`mmstan.models.heads`).
            A head whose ``__init__`` takes ``text_tower`` gets the open_clip text tower
            (to copy layers from); a head with ``encode_video`` turns the frame
            embeddings into its video features once per video (in :meth:`encode_video`);
            a head with ``score_terms`` gives the loss weighted score matrices, each
            with its own InfoNCE ``L_t2v + L_v2t`` times the weight (CLIP2Video's
            ``w L_global + (1 - w) L_aligned``, each ``½ (L_t2v + L_v2t)``).
        logit_scale: InfoNCE logit scale (1 / temperature; 100 = temperature 0.01).
        learn_logit_scale: learn it (CLIP style, in log space) instead of fixing it.
        local_loss: under distributed training, each rank scores its own captions against
            all gathered videos and its own videos against all gathered captions
            (``2 B²/W`` pairs per rank instead of ``B²``); loss and gradients equal the
            global loss's (:mod:`mmstan.models.losses.contrastive` derives it). Worth it
            for heads whose pair scoring is costly (Mug: ``K x T`` per pair).
        data_preprocessor: ``MultiModalDataPreprocessor`` config (``imgs`` and ``text``).

    Inputs: ``dict(imgs=[B, 1, 3, T, H, W], text=[B, K])``.

    Public encode / score API (used by the retrieval loops and tools/search.py):
    :meth:`encode_video`, :meth:`encode_text`, :meth:`score`.
    """

    def __init__(self, clip: dict, backbone: dict, text_frozen_layers: int = 0,
                 head: dict = dict(type='MugHead', mode='mug'), logit_scale: float = 100.0,
                 learn_logit_scale: bool = False, local_loss: bool = False,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        clip_model = load_clip_from_config(clip, 'model.clip')
        self.backbone = MODELS.build(dict(backbone, clip_model=clip_model))
        self.text_encoder = CLIPText(clip_model, frozen_layers=text_frozen_layers)
        self.head = MODELS.build(_with_text_tower(head, self.text_encoder.text))
        log_scale = torch.tensor(math.log(logit_scale))
        if learn_logit_scale:
            self.log_logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer('log_logit_scale', log_scale)
        self.local_loss = local_loss

    # ---- the encode / score API (test-time retrieval, tools/search.py) ----------------
    # Encode each video and each caption once, keep the features, score any set of
    # captions against any set of videos with the model's own head:
    #     frames = model.encode_video(imgs)            # [N, T, E]
    #     text = model.encode_text(token_ids)          # (pooled [M, E], tokens [M, K, E], mask [M, K])
    #     scores = model.score(text, frames)           # [M, N], bounded memory

    def encode_video(self, imgs: Tensor) -> Tensor:
        """Video features: ``[B, 1, 3, T, H, W]`` (or ``[B, 3, T, H, W]``) normalised
        pixels -> frame embeddings ``[B, T, E]`` (what :meth:`score` takes), or, for a
        head with its own video side (``head.encode_video``), its video features."""
        if imgs.dim() == 6:
            assert imgs.shape[1] == 1, 'one clip per video: use num_clips=1 for retrieval'
            imgs = imgs[:, 0]
        frames = self.backbone(imgs)
        encode = getattr(self.head, 'encode_video', None)
        return frames if encode is None else encode(frames)

    def encode_text(self, text: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Caption features: ``[M, K]`` token ids -> ``(pooled [M, E], tokens [M, K, E],
        mask [M, K])`` (what :meth:`score` takes)."""
        return self.text_encoder(text)

    @torch.no_grad()
    def score(self, text: Tuple[Tensor, Tensor, Tensor], frames: Tensor) -> Tensor:
        """Scores of M captions (``encode_text``'s output) with N videos (``encode_video``'s
        ``[N, T, E]``): ``[M, N]``, from the model's own head (learned weights included),
        computed in blocks of bounded memory (``head.gallery``), for any M and N."""
        pooled, tokens, mask = text
        return self._in_float32(self.head.gallery, tokens, mask, pooled, frames)

    @staticmethod
    def _in_float32(score_fn, tokens: Tensor, mask: Tensor, pooled: Tensor, video: Tensor):
        """``score_fn(tokens, mask, pooled, video)`` in float32 under mixed precision too:
        autocast off, half-precision features upcast. The head's scoring (Mug's
        statistics, the softmaxes of Mug, WTI and TAB, the cosines that become InfoNCE
        logits) is small next to the towers, and at Mug's and InfoNCE's temperature 100
        bf16's rounding of a cosine (~0.004 near 1) would move a logit by ~0.4."""
        with float32_region(video):
            return score_fn(upcast(tokens), mask, upcast(pooled), upcast(video))

    def forward(self, inputs: Dict[str, Tensor], data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """Modes:

        - ``'loss'``: ``inputs`` has ``imgs`` and ``text`` of B pairs (features all-gathered
          across ranks with gradients); symmetric InfoNCE, global or ``local_loss``.
        - ``'tensor'``: the ``[B, B]`` scores of the batch's captions with its videos.
        - ``'predict'`` (``test_step``): the features of whichever of ``imgs`` / ``text`` the
          batch has, ``dict(frames=[B, T, E])`` and/or ``dict(pooled=..., tokens=...,
          mask=...)``; the retrieval loops score them with :meth:`score`.
        """
        if mode == 'predict':
            feats = {}
            if 'imgs' in inputs:
                feats['frames'] = self.encode_video(inputs['imgs'])
            if 'text' in inputs:
                feats['pooled'], feats['tokens'], feats['mask'] = self.encode_text(inputs['text'])
            return feats
        frames = self.encode_video(inputs['imgs'])
        pooled, tokens, mask = self.encode_text(inputs['text'])
        if mode == 'tensor':
            return self._in_float32(self.head, tokens, mask, pooled, frames)
        if mode == 'loss':
            return self._contrastive_loss(frames, pooled, tokens, mask)
        raise ValueError(f'mode must be tensor, loss or predict, got {mode!r}')

    def _contrastive_loss(self, frames: Tensor, pooled: Tensor, tokens: Tensor,
                          mask: Tensor) -> Dict[str, Tensor]:
        """``dict(loss_t2v, loss_v2t)`` of the local batch's b pairs, features gathered
        across ranks with gradients: the global loss of the gathered ``[B, B]`` scores, or
        with ``local_loss`` the local captions' ``[b, B]`` and local videos' ``[B, b]``
        scores (same loss and gradients, see :mod:`mmstan.models.losses.contrastive`)."""
        rank, world = distributed_world()
        text = (tokens, mask, pooled)
        all_text = tuple(gather_with_grad(x) for x in text)
        all_frames = gather_with_grad(frames)
        if self.local_loss and world > 1:
            t2v_terms = self._score_terms(text, all_frames)
            v2t_terms = self._score_terms(all_text, frames)
            offset = rank * frames.shape[0]
        else:
            t2v_terms = v2t_terms = self._score_terms(all_text, all_frames)
            offset = 0
        loss_t2v = loss_v2t = 0.0
        for (weight, t2v_scores), (_, v2t_scores) in zip(t2v_terms, v2t_terms):
            t2v, v2t = local_infonce(t2v_scores, v2t_scores, self.log_logit_scale.exp(), offset)
            loss_t2v, loss_v2t = loss_t2v + weight * t2v, loss_v2t + weight * v2t
        return dict(loss_t2v=loss_t2v, loss_v2t=loss_v2t)  # summed by mmengine: eq. 19

    def _score_terms(self, text: Tuple[Tensor, Tensor, Tensor], video: Tensor) -> List[Tuple[float, Tensor]]:
        """The head's weighted ``[M, N]`` score matrices of ``text = (tokens, mask,
        pooled)`` with ``video``: its ``score_terms``, or its scores with weight 1."""
        tokens, mask, pooled = text
        if hasattr(self.head, 'score_terms'):
            return self._in_float32(self.head.score_terms, tokens, mask, pooled, video)
        return [(1.0, self._in_float32(self.head, tokens, mask, pooled, video))]


def _with_text_tower(head: dict, text_tower: nn.Module) -> dict:
    """``head`` with ``text_tower`` added when the head class takes one."""
    cls = head['type'] if isinstance(head['type'], type) else MODELS.get(head['type'])
    if cls is not None and 'text_tower' in inspect.signature(cls).parameters:
        return dict(head, text_tower=text_tower)
    return head
