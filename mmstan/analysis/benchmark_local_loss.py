"""One rank's cost of the retriever's contrastive loss on gathered features (no towers):
the global loss (every rank scores all ``B x B`` pairs) against the local loss (rank r
scores its ``b = B / W`` captions x all B videos and its b videos x all B captions,
:func:`mmstan.models.losses.local_infonce`). The library of
``tools/analysis/benchmark_local_loss.py``, which runs :func:`run_one` once per case in a
fresh process, so that each memory peak is its own.
"""
import resource
import time

from .benchmark_mug import load_average, make_inputs, rss_mb

HEADS = ('mug', 'mean')
LOSSES = ('global', 'local')


def pairs_per_rank(loss: str, batch: int, world: int) -> int:
    """Scored (caption, video) pairs of one rank: ``B²`` (global) or ``2 B² / W`` (local)."""
    return batch * batch if loss == 'global' else 2 * batch * (batch // world)


def build_head(name: str):
    """The retriever's head: ``MugHead(mode='mug')`` or ``MeanPHead``."""
    from mmstan.models.heads import MeanPHead, MugHead
    return MugHead('mug') if name == 'mug' else MeanPHead()


def loss_step(head, loss: str, features: tuple, world: int, logit_scale: float = 100.0):
    """Forward and backward of one rank's loss (rank 0's share) on the gathered
    ``features = (tokens [B, K, E], mask [B, K], pooled [B, E], frames [B, T, E])``."""
    import torch

    from mmstan.models.losses import local_infonce, symmetric_infonce

    tokens, mask, pooled, frames = features
    scale = torch.tensor(logit_scale)
    if loss == 'global':
        t2v, v2t = symmetric_infonce(head(tokens, mask, pooled, frames), scale)
    else:
        b = tokens.shape[0] // world
        t2v, v2t = local_infonce(head(tokens[:b], mask[:b], pooled[:b], frames),
                                 head(tokens, mask, pooled, frames[:b]), scale)
    (t2v + v2t).backward()


def run_one(head_name: str, loss: str, batch: int, world: int, tokens: int, frames: int,
            dim: int, repeats: int) -> dict:
    """Time (median of ``repeats`` forward + backward) and extra memory (peak RSS minus
    RSS once the gathered features exist) of one rank's loss, on the CPU."""
    import torch

    head = build_head(head_name)
    text, mask, pooled, video = make_inputs(batch, tokens, frames, dim, 'cpu')
    features = tuple(x.requires_grad_() if x.is_floating_point() else x
                     for x in (text, mask, pooled, video))
    base, load = rss_mb(), load_average()
    times = []
    for _ in range(repeats + 1):  # the first pass (allocations, thread pool) is not timed
        for x in features:
            x.grad = None
        start = time.perf_counter()
        loss_step(head, loss, features, world)
        times.append(time.perf_counter() - start)
    extra = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    assert all(torch.isfinite(x.grad).all() for x in features if x.grad is not None)
    return dict(head=head_name, loss=loss, batch=batch, world=world,
                pairs=pairs_per_rank(loss, batch, world), seconds=sorted(times[1:])[repeats // 2],
                extra_mb=extra, load=max(load, load_average()), threads=torch.get_num_threads())


def estimate_mb(measured: dict, pairs: int) -> float:
    """Extra memory of a case with ``pairs`` pairs, from a measured case of the same head
    (the loss's memory grows with the pairs scored)."""
    return measured['extra_mb'] * pairs / measured['pairs']


def markdown_table(rows: list) -> str:
    """``rows``: dicts with head, batch, world and per loss ``seconds`` / ``extra_mb`` (or a
    ``skipped`` note); one line per (head, B) with both losses and their ratios."""
    lines = ['| head | B | W | pairs per rank global / local | time global (s) | time local (s) | '
             'speed-up | peak extra MB global | peak extra MB local | memory ratio |',
             '|---|---|---|---|---|---|---|---|---|---|']

    def cell(res, key, fmt):
        return res['skipped'] if 'skipped' in res else format(res[key], fmt)

    def ratio(g, loc, key):
        return '—' if 'skipped' in g or 'skipped' in loc else f'{g[key] / max(loc[key], 1e-9):.1f}x'

    for row in rows:
        g, loc = row['global'], row['local']
        lines.append(f'| {row["head"]} | {row["batch"]} | {row["world"]} | '
                     f'{g["pairs"]:,} / {loc["pairs"]:,} | {cell(g, "seconds", ".3f")} | '
                     f'{cell(loc, "seconds", ".3f")} | {ratio(g, loc, "seconds")} | '
                     f'{cell(g, "extra_mb", ".0f")} | {cell(loc, "extra_mb", ".0f")} | '
                     f'{ratio(g, loc, "extra_mb")} |')
    return '\n'.join(lines)
