"""Text-video retrieval metric: text->video and video->text R@1/5/10, MdR, MnR, correct
with several captions per video, with optional DSL and QB-Norm post-processing.

The metric ranks a score matrix with its ground truth; it never scores anything itself.
The scores come from the model's own head (``VideoTextRetriever.score``), computed by the
retrieval loops (:mod:`mmstan.engine.retrieval_loop`)."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmaction.registry import METRICS
from mmengine.evaluator import BaseMetric
from torch import Tensor

from mmstan.errors import UserError


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
    """R@1/5/10 (percent), MdR and MnR of 1-based ranks. MdR is the usual median (the
    mean of the two middle ranks for an even count, as ``np.median`` in CLIP4Clip-style
    evaluation code), not torch's lower median."""
    ranks = ranks.double()
    out = OrderedDict()
    for k in (1, 5, 10):
        out[f'{prefix}R{k}'] = 100.0 * (ranks <= k).double().mean().item()
    out[f'{prefix}MdR'] = ranks.quantile(0.5).item()
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


def _first(ids: Tensor) -> str:
    """The first few of ``ids``, for messages."""
    ids = ids.tolist()
    return f'{ids[:8]}{" ..." if len(ids) > 8 else ""}'


def _id_check(ids: Tensor, total: int) -> Tuple[Tensor, Tensor, Tensor]:
    """``(missing, repeated, unknown)`` ids of ``ids``, which should be ``0..total-1``
    each exactly once (sorted)."""
    known = (ids >= 0) & (ids < total)
    counts = torch.bincount(ids[known], minlength=total)
    return (counts == 0).nonzero().flatten(), (counts > 1).nonzero().flatten(), ids[~known].unique()


@METRICS.register_module()
class TextVideoRetrievalMetric(BaseMetric):
    """Ranks the ``[captions, videos]`` score matrix of a test set.

    ``process`` takes the score blocks the retrieval loops hand the evaluator:

    - ``dict(scores=[b, N], caption_index=[b], video_index=[b])``: rows of the score
      matrix for test captions ``caption_index`` with all N videos, and the video each of
      those captions describes (its ground truth, from the annotation);
    - ``dict(scores=[b, N], bank_index=[b])``: rows for QB-Norm's query bank (captions of
      the training split, see ``VideoCaptionDataset(query_bank=...)``).

    Rows may come in any order and from any rank, but every caption (and query-bank
    caption) exactly once, and every video must be described by at least one caption.
    The loops tell the metric how many there are (:meth:`expect_totals`, from the
    dataset); a metric not told checks the ids it saw against 0 to the largest. Anything
    else (a caption missing or repeated, a video without captions, a gallery of another
    size) is a ``UserError`` naming the ids, before any metric is computed.

    Args:
        post_process: ``None``, ``'dsl'`` or ``'qb_norm'`` (the papers' ``*`` rows);
            QB-Norm needs the query bank and applies to t2v (v2t is reported without it).
        dsl_temperature: temperature of DSL.
        qb_k, qb_beta: QB-Norm settings.
    """

    default_prefix = 'retrieval'

    def __init__(self, post_process: Optional[str] = None, dsl_temperature: float = 100.0,
                 qb_k: int = 1, qb_beta: float = 20.0, collect_device: str = 'cpu',
                 prefix: Optional[str] = None, head: Optional[dict] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if head is not None:
            raise UserError('TextVideoRetrievalMetric takes no `head` any more (the model scores '
                            'with its own head): remove `head` from val_evaluator / test_evaluator')
        if post_process not in (None, 'dsl', 'qb_norm'):
            raise UserError(f"TextVideoRetrievalMetric: post_process must be None, 'dsl' or "
                            f"'qb_norm', got {post_process!r}")
        self.post_process = post_process
        self.dsl_temperature = dsl_temperature
        self.qb_k, self.qb_beta = qb_k, qb_beta
        self.expected: Optional[Dict[str, int]] = None

    def expect_totals(self, captions: int, videos: int, bank: int = 0) -> None:
        """The test set's sizes (the dataset's captions, videos and query-bank captions),
        set by the retrieval loops before they hand over score rows: the next
        ``compute_metrics`` checks that exactly these arrived."""
        self.expected = dict(captions=int(captions), videos=int(videos), bank=int(bank))

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for block in data_samples:
            self.results.append({k: v.detach().cpu() for k, v in block.items()})

    @staticmethod
    def assemble(results: List[dict], expected: Optional[Dict[str, int]] = None
                 ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """``(sim [M, N], video of each caption [M], bank scores [B, N] or None)`` from the
        processed blocks, each row put at its caption's index.

        ``expected``: ``dict(captions=M, videos=N, bank=B)`` (see :meth:`expect_totals`);
        without it, ``M`` and ``B`` are one more than the largest index seen and ``N``
        the width of the rows. Raises ``UserError`` unless every caption and query-bank
        caption arrived exactly once, the rows are ``N`` wide and every video has a
        caption among them."""
        captions = [r for r in results if 'caption_index' in r]
        banks = [r for r in results if 'bank_index' in r]
        if not captions:
            raise UserError('retrieval metric: no caption scores were processed (an empty test '
                            'set, or an evaluator fed by another loop than VideoTextRetrieval*Loop)')
        widths = sorted({int(r['scores'].shape[1]) for r in captions + banks})
        index = torch.cat([r['caption_index'] for r in captions]).long()
        owner_rows = torch.cat([r['video_index'] for r in captions]).long()
        bank_index = torch.cat([r['bank_index'] for r in banks]).long() if banks else None
        expected = dict(expected or {})
        num_captions = expected.get('captions', int(index.max()) + 1 if len(index) else 0)
        num_videos = expected.get('videos', widths[-1])
        num_bank = expected.get('bank', int(bank_index.max()) + 1
                                if bank_index is not None and len(bank_index) else 0)

        problems: Dict[str, List[str]] = {}
        tail_dropped = repeated_any = mismatch = captions_missing = False
        empty = torch.empty(0, dtype=torch.long)
        for what, ids, total in (('captions', index, num_captions),
                                 ('query-bank captions', empty if bank_index is None else bank_index,
                                  num_bank)):
            missing, repeated, unknown = _id_check(ids, total)
            found = []
            if len(missing):
                tail = len(missing) < total and int(missing[0]) == total - len(missing)
                tail_dropped, mismatch = tail_dropped or tail, mismatch or not tail
                captions_missing = captions_missing or what == 'captions'
                found.append(f'{len(missing)} of {total} missing (ids {_first(missing)}'
                             f'{", the last ones" if tail else ""})')
            if len(repeated):
                repeated_any = True
                found.append(f'{len(repeated)} arrived more than once (ids {_first(repeated)})')
            if len(unknown):
                mismatch = True
                found.append(f'unknown ids {_first(unknown)} (expected 0..{total - 1})')
            if found:
                problems[what] = found
        # videos: each is described by any number of captions, but by one at least
        found = []
        if widths != [num_videos]:
            mismatch = True
            found.append(f'score rows are {" and ".join(map(str, widths))} videos wide, the '
                         f'gallery has {num_videos}')
        missing, _, unknown = _id_check(owner_rows.unique(), num_videos)
        if len(missing):
            mismatch = mismatch or not captions_missing  # else the lost captions explain it
            found.append(f'{len(missing)} of {num_videos} missing: no caption of theirs arrived '
                         f'(ids {_first(missing)})')
        if len(unknown):
            mismatch = True
            found.append(f'captions describe unknown videos {_first(unknown)} '
                         f'(expected 0..{num_videos - 1})')
        if found:
            problems['videos'] = found
        if problems:
            causes = []
            if tail_dropped:
                causes.append('the last batch was dropped (a sampler or batch sampler with '
                              'drop_last=True?)')
            if repeated_any:
                causes.append('rows were handed over twice (the padding of a distributed split '
                              'must not reach the metric)')
            if mismatch:
                causes.append('a dataset / annotation mismatch (scores, ground truth and totals '
                              'from different annotations, e.g. videos dropped on one side only) '
                              'or a sampler that skips items')
            raise UserError('retrieval metric: the scores do not cover the test set exactly once: '
                            + ' | '.join(f'{what}: {"; ".join(problems[what])}' for what in
                                         ('captions', 'videos', 'query-bank captions') if what in problems)
                            + '. Probably ' + '; or '.join(causes))
        order = torch.empty(num_captions, dtype=torch.long)
        order[index] = torch.arange(len(index))
        sim = torch.cat([r['scores'] for r in captions]).float()[order]
        bank = None
        if bank_index is not None and num_bank:
            bank_order = torch.empty(num_bank, dtype=torch.long)
            bank_order[bank_index] = torch.arange(len(bank_index))
            bank = torch.cat([r['scores'] for r in banks]).float()[bank_order]
        return sim, owner_rows[order], bank

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        sim, owner, bank = self.assemble(results, self.expected)
        if self.post_process == 'qb_norm' and bank is None:
            raise UserError("post_process='qb_norm' needs a query bank of training captions: set "
                            "query_bank=dict(ann_file='train.json') on the test dataset")
        return retrieval_metrics(sim, owner, self.post_process, bank, self.dsl_temperature,
                                 self.qb_k, self.qb_beta)
