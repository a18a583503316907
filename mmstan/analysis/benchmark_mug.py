"""Time, extra memory and matmul share of exact Mug scoring (eqs. 11-18) of a full text x
video gallery: the current ``MugHead.gallery`` ("after") against the previous
implementation ("before", kept here only as the reference). The library of
``tools/analysis/benchmark_mug.py``, whose docstring says what is measured; that script
runs :func:`run_one` once per (size, implementation) in a fresh process, so that each
memory peak is its own.
"""
import resource
import time
from typing import Optional

IMPLS = ('before', 'after')
MATMULS = ('aten::mm', 'aten::bmm', 'aten::addmm', 'aten::baddbmm')


def before_gallery(tokens, mask, frames, tau: float = 100.0, block_elements: int = 2 ** 24):
    """The gallery as it was before (commit 0f61153): texts in chunks against all
    videos, the ``[texts, videos, K, T]`` cosines from one einsum, one shared
    exponential shifted by each pair's maximum, and a two-softmax fallback."""
    import torch
    import torch.nn.functional as F

    def two_softmax(g, m):
        logits = tau * g
        s = torch.softmax(logits.masked_fill(~m, float('-inf')), dim=2)
        w = torch.softmax(tau * (s * g).sum(dim=2), dim=-1)
        s_prime = torch.softmax(logits, dim=3)
        token_logits = (tau * (s_prime * g).sum(dim=3)).masked_fill(~m[..., 0], float('-inf'))
        w_prime = torch.softmax(token_logits, dim=-1)
        return torch.einsum('mnk,mnkt,mnt->mn', w_prime, g, w)

    def block(g, m):
        x = tau * g
        x = x.sub_(x.amax(dim=(2, 3), keepdim=True))
        e = x.exp_() * m
        over_tokens = e.sum(dim=2)
        over_frames = e.sum(dim=3).masked_fill(~m[..., 0], 1.0)
        if min(over_tokens.min(), over_frames.min()) < 1e-30:
            return two_softmax(g, m)
        eg = e.mul_(g)
        w = torch.softmax(tau * eg.sum(dim=2) / over_tokens, dim=-1)
        token_logits = (tau * eg.sum(dim=3) / over_frames).masked_fill(~m[..., 0], float('-inf'))
        w_prime = torch.softmax(token_logits, dim=-1)
        return torch.einsum('mnk,mnkt,mnt->mn', w_prime, g, w)

    with torch.no_grad():
        chunk = max(1, block_elements // (frames.shape[0] * frames.shape[1] * tokens.shape[1]))
        out = tokens.new_empty(tokens.shape[0], frames.shape[0])
        for i in range(0, tokens.shape[0], chunk):   # each chunk normalised its inputs
            c, v = F.normalize(tokens[i:i + chunk], dim=-1), F.normalize(frames, dim=-1)
            g = torch.einsum('mkd,ntd->mnkt', c, v)
            out[i:i + chunk] = block(g, mask[i:i + chunk, None, :, None])
        return out


def rss_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return 0.0


def load_average() -> float:
    """The machine's 1-minute load average (other processes competing for the cores)."""
    try:
        with open('/proc/loadavg') as f:
            return float(f.read().split()[0])
    except OSError:
        return float('nan')


def make_inputs(size: int, tokens: int, frames: int, dim: int, device: str):
    import torch
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(0)
    text = F.normalize(torch.randn(size, tokens, dim, generator=g), dim=-1)
    mask = torch.ones(size, tokens, dtype=torch.bool)
    mask[:, tokens // 2:] = torch.rand(size, 1, generator=g) < 0.5   # half the captions short
    pooled = F.normalize(torch.randn(size, dim, generator=g), dim=-1)
    video = F.normalize(torch.randn(size, frames, dim, generator=g), dim=-1)
    return tuple(x.to(device) for x in (text, mask, pooled, video))


def matmul_share(fn, device: str) -> float:
    """Share of profiled operator self time spent in matrix products."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    cuda = device.startswith('cuda')
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        fn()
        if cuda:
            torch.cuda.synchronize()
    key = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    events = [e for e in prof.key_averages() if getattr(e, key, 0) > 0]
    total = sum(getattr(e, key) for e in events)
    return sum(getattr(e, key) for e in events if e.key in MATMULS) / max(total, 1e-9)


def run_one(impl: str, size: int, tokens: int, frames: int, dim: int, block: Optional[int],
            device: str, profile_texts: int) -> dict:
    import torch

    from mmstan.models.heads.mug_head import MugHead

    text, mask, pooled, video = make_inputs(size, tokens, frames, dim, device)
    head = MugHead('mug', block_elements=block)
    cuda = device.startswith('cuda')

    def gallery(rows=slice(None)):
        if impl == 'before':
            return before_gallery(text[rows], mask[rows], video)
        return head.gallery(text[rows], mask[rows], pooled[rows], video)

    if cuda:
        gallery(slice(0, 2))   # CUDA context and kernels, outside the timing
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2 ** 20
    else:
        base = rss_mb()
    load = load_average()
    start, cpu_start = time.perf_counter(), time.process_time()
    scores = gallery()
    if cuda:
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    load = max(load, load_average())
    if cuda:
        extra = torch.cuda.max_memory_allocated() / 2 ** 20 - base
    else:
        extra = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    assert scores.shape == (size, size) and torch.isfinite(scores).all()
    sample = slice(0, min(size, profile_texts))
    res = dict(impl=impl, size=size, seconds=seconds, cpu_seconds=cpu_seconds, load=load,
               extra_mb=extra,
               scores_mb=scores.numel() * scores.element_size() / 2 ** 20,
               matmul_share=matmul_share(lambda: gallery(sample), device),
               profiled_texts=sample.stop, threads=torch.get_num_threads())
    if impl == 'after':
        rows = slice(0, min(size, 16))
        res['max_diff_vs_before'] = float(
            (scores[rows] - before_gallery(text[rows], mask[rows], video)).abs().max())
    return res
