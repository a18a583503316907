"""One rank's cost of the retriever's contrastive loss on gathered features (no towers):
the global loss (every rank scores all ``B x B`` pairs) against the local loss (rank r
scores its ``b = B / W`` captions x all B videos and its b videos x all B captions,
:func:`mmstan.models.losses.local_infonce`). The library of
``tools/analysis/benchmark_local_loss.py``, which runs :func:`peak_memory` once per case
in a fresh process, so that each memory peak is its own, and :func:`time_losses` once per
(head, B) with both losses interleaved.
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


def _features(batch: int, tokens: int, frames: int, dim: int) -> tuple:
    text, mask, pooled, video = make_inputs(batch, tokens, frames, dim, 'cpu')
    return tuple(x.requires_grad_() if x.is_floating_point() else x for x in (text, mask, pooled, video))


def _timed_step(head, loss: str, features: tuple, world: int) -> float:
    for x in features:
        x.grad = None
    start = time.perf_counter()
    loss_step(head, loss, features, world)
    return time.perf_counter() - start


def time_losses(head_name: str, losses: list, batch: int, world: int, tokens: int,
                frames: int, dim: int, repeats: int) -> dict:
    """``{loss: median seconds of repeats forward + backward}``, the losses interleaved in
    one process (so that load from other processes falls on both alike), after one
    untimed pass of each (allocations, thread pool)."""
    import torch

    head, features = build_head(head_name), _features(batch, tokens, frames, dim)
    times = {loss: [] for loss in losses}
    load = load_average()
    for rep in range(repeats + 1):
        for loss in losses:
            seconds = _timed_step(head, loss, features, world)
            if rep:
                times[loss].append(seconds)
    assert all(torch.isfinite(x.grad).all() for x in features if x.grad is not None)
    return dict(seconds={loss: sorted(t)[len(t) // 2] for loss, t in times.items()},
                load=max(load, load_average()), threads=torch.get_num_threads())


def peak_memory(head_name: str, loss: str, batch: int, world: int, tokens: int, frames: int,
                dim: int) -> dict:
    """Extra memory of one forward + backward: peak RSS minus RSS once the gathered
    features exist (run it in a fresh process: the peak is the process's)."""
    head, features = build_head(head_name), _features(batch, tokens, frames, dim)
    base = rss_mb()
    _timed_step(head, loss, features, world)
    return dict(extra_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base)


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
