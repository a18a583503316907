"""Text-video retrieval metric: text->video and video->text R@1/5/10, MdR, MnR, correct
with several captions per video, with optional DSL and QB-Norm post-processing."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch
from mmaction.registry import METRICS, MODELS
from mmengine.evaluator import BaseMetric
from torch import Tensor


def dual_softmax(sim: Tensor, temperature: float = 100.0) -> Tensor:
    """DSL (CAMoE): re-weight every text->video score by a softmax over the texts of that
    video's column: ``sim * softmax(temperature * sim, dim=0)``. ``sim`` is ``[texts, videos]``."""
    return sim * torch.softmax(temperature * sim, dim=0)


def qb_norm(sim: Tensor, bank: Tensor, k: int = 1, beta: float = 20.0) -> Tensor:
    """QB-Norm with the dynamic inverted softmax (Bogolin et al. 2022).

    Args:
        sim: ``[queries, gallery]`` scores.
        bank: ``[bank queries, gallery]`` scores of a query bank (e.g. training captions).
        k: a gallery item is a hub if it is in the top-k of some bank query.
        beta: inverse temperature.

    Each query's scores are normalised by the bank's ``sum_q exp(beta * bank[q, g])`` —
    only if the query's own top-1 gallery item is a hub; other queries are unchanged.
    """
    norm = torch.exp(beta * bank).sum(dim=0)                       # [gallery]
    hubs = torch.zeros(sim.shape[1], dtype=torch.bool)
    hubs[bank.topk(k, dim=1).indices.flatten()] = True
    normalised = torch.exp(beta * sim) / norm
    apply = hubs[sim.argmax(dim=1)]
    return torch.where(apply[:, None], normalised, sim)


def ranks_of(sim: Tensor, positives: Tensor) -> Tensor:
    """1-based rank of the best-ranked positive for every query.

    ``sim [Q, G]`` scores, ``positives [Q, G]`` bool. Ties count against the query
    (a positive tied with a negative ranks below it).
    """
    best_pos = sim.masked_fill(~positives, float('-inf')).max(dim=1).values
    return ((sim >= best_pos[:, None]) & ~positives).sum(dim=1) + 1


def recall_summary(ranks: Tensor, prefix: str) -> Dict[str, float]:
    ranks = ranks.double()
    out = OrderedDict()
    for k in (1, 5, 10):
        out[f'{prefix}R{k}'] = 100.0 * (ranks <= k).double().mean().item()
    out[f'{prefix}MdR'] = ranks.median().item()
    out[f'{prefix}MnR'] = ranks.mean().item()
    return out


def retrieval_metrics(sim: Tensor, owner: Tensor, post_process: Optional[str] = None,
                      bank: Optional[Tensor] = None, dsl_temperature: float = 100.0,
                      qb_k: int = 1, qb_beta: float = 20.0) -> Dict[str, float]:
    """t2v and v2t R@1/5/10, MdR, MnR of a ``[texts, videos]`` score matrix.

    Args:
        sim: ``[M, N]`` score of every text with every video.
        owner: ``[M]`` the column (video) each text describes; a video may own several.
        post_process: ``None``, ``'dsl'`` or ``'qb_norm'`` (needs ``bank``).
        bank: ``[B, N]`` scores of query-bank texts with the same videos (QB-Norm, applied
            to t2v; v2t is reported without it), e.g. training captions.

    Returns ``{'t2v/R1': ..., ..., 'v2t/MnR': ...}``. A v2t query (a video) counts as
    found at the rank of the best-ranked of its texts.
    """
    positives = owner[:, None] == torch.arange(sim.shape[1])[None]
    if post_process == 'dsl':
        t2v_sim, v2t_sim = dual_softmax(sim, dsl_temperature), dual_softmax(sim.T, dsl_temperature)
    elif post_process == 'qb_norm':
        if bank is None:
            raise ValueError("post_process='qb_norm' needs the query bank's scores")
        t2v_sim, v2t_sim = qb_norm(sim, bank, qb_k, qb_beta), sim.T  # a bank of texts: t2v only
    elif post_process is None:
        t2v_sim, v2t_sim = sim, sim.T
    else:
        raise ValueError(f"post_process must be None, 'dsl' or 'qb_norm', got {post_process!r}")
    metrics = recall_summary(ranks_of(t2v_sim, positives), 't2v/')
    metrics.update(recall_summary(ranks_of(v2t_sim, positives.T), 'v2t/'))
    return metrics


@METRICS.register_module()
class TextVideoRetrievalMetric(BaseMetric):
    """Scores every test caption against every test video with the similarity head.

    Each predicted data sample carries ``embeddings`` (``frames [T, E]``, ``tokens [K, E]``,
    ``mask [K]``, ``pooled [E]``) and ``video_id`` (its video's index). Captions of the
    same video share ``video_id``; the video features are taken once per id.

    Args:
        head: similarity head config (``MugHead`` modes ``mug``/``frame_text``/
            ``video_token``/``mean``).
        post_process: ``None``, ``'dsl'`` or ``'qb_norm'`` (the papers' ``*`` rows).
        dsl_temperature: temperature of DSL.
        qb_k, qb_beta: QB-Norm settings; the query bank is the test captions themselves
            unless features of a bank are given to :meth:`compute_metrics` callers.
    """

    default_prefix = 'retrieval'

    def __init__(self, head: dict = dict(type='MugHead', mode='mug'),
                 post_process: Optional[str] = None, dsl_temperature: float = 100.0,
                 qb_k: int = 1, qb_beta: float = 20.0, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        assert post_process in (None, 'dsl', 'qb_norm'), f'unknown post_process {post_process!r}'
        self.head = MODELS.build(head)
        self.post_process = post_process
        self.dsl_temperature = dsl_temperature
        self.qb_k, self.qb_beta = qb_k, qb_beta

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            feats = sample['embeddings']
            self.results.append(dict(
                video_id=int(sample['video_id']),
                **{k: feats[k].detach().cpu().float() if k != 'mask' else feats[k].cpu()
                   for k in ('frames', 'tokens', 'mask', 'pooled')}))

    def similarity(self, results: List[dict]):
        """``(sim [captions, videos], video index of each caption)``."""
        video_ids = sorted({r['video_id'] for r in results})
        column = {v: i for i, v in enumerate(video_ids)}
        first = {}
        for r in results:
            first.setdefault(r['video_id'], r)
        frames = torch.stack([first[v]['frames'] for v in video_ids])
        tokens = torch.stack([r['tokens'] for r in results])
        mask = torch.stack([r['mask'] for r in results])
        pooled = torch.stack([r['pooled'] for r in results])
        sim = self.head.gallery(tokens, mask, pooled, frames)
        owner = torch.tensor([column[r['video_id']] for r in results])
        return sim, owner

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        sim, owner = self.similarity(results)
        positives = owner[:, None] == torch.arange(sim.shape[1])[None]
        if self.post_process == 'dsl':
            t2v_sim = dual_softmax(sim, self.dsl_temperature)
            v2t_sim = dual_softmax(sim.T, self.dsl_temperature)
        elif self.post_process == 'qb_norm':
            t2v_sim = qb_norm(sim, sim, self.qb_k, self.qb_beta)
            v2t_sim = qb_norm(sim.T, sim.T, self.qb_k, self.qb_beta)
        else:
            t2v_sim, v2t_sim = sim, sim.T
        metrics = recall_summary(ranks_of(t2v_sim, positives), 't2v/')
        metrics.update(recall_summary(ranks_of(v2t_sim, positives.T), 'v2t/'))
        return metrics
