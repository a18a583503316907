"""Time, extra memory and matmul share of exact Mug scoring (eqs. 11-18) of a full text x
video gallery: the current ``MugHead.gallery`` ("after") side by side with the previous
implementation ("before", kept in this script only as the reference).

    python tools/analysis/benchmark_mug.py --size 1000 [--size 10000] \
        [--tokens 32 --frames 12 --dim 512] [--impl before --impl after] [--device cpu]

Inputs are random L2-normalised features; half the captions are ``tokens`` long, half
``tokens / 2`` (the rest is padding). Each (size, implementation) runs in a fresh
subprocess so that its memory peak is its own:

- time: wall clock of one ``gallery`` call over the whole N x N gallery, with the
  process's CPU time and the machine's load average (other work on the same cores
  slows both implementations down, the one with more thread synchronisation more);
- extra memory: on CPU the process's peak resident memory (``ru_maxrss``) minus its
  resident memory once the inputs exist (so it includes the N x N score matrix); on
  CUDA ``torch.cuda.max_memory_allocated`` minus the memory allocated for the inputs;
- matmul share: the share of operator time spent in matrix products (``aten::mm``,
  ``bmm``, ``addmm``) under ``torch.profiler``, on the first ``--profile-texts`` texts
  against all videos (profiling the whole 10k gallery would cost more than it says);
- the "after" run also reports the largest difference from "before" on its first
  16 texts (against all videos).
"""
import argparse
import json
import os.path as osp
import resource
import subprocess
import sys
import time
from typing import Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

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


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, action='append', help='gallery size N (N x N)')
    parser.add_argument('--tokens', type=int, default=32)
    parser.add_argument('--frames', type=int, default=12)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--impl', choices=IMPLS, action='append',
                        help='implementation(s) to run (default: both)')
    parser.add_argument('--block', type=int, default=None,
                        help='MugHead.block_elements of "after" (default: MugHead\'s)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--profile-texts', type=int, default=256,
                        help='texts (against all videos) profiled for the matmul share')
    parser.add_argument('--child', choices=IMPLS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = args.size or [1000]
    if args.child:
        print(json.dumps(run_one(args.child, sizes[0], args.tokens, args.frames, args.dim,
                                 args.block, args.device, args.profile_texts)))
        return []
    impls = args.impl or list(IMPLS)
    print(f'Mug gallery, exact: K={args.tokens} tokens (half the captions {args.tokens // 2}), '
          f'T={args.frames} frames, E={args.dim}, {args.device}; extra memory = '
          + ('peak CUDA allocation minus inputs' if args.device.startswith('cuda')
             else 'peak RSS minus RSS with the inputs'), flush=True)
    results = []
    for size in sizes:
        by_impl = {}
        for impl in impls:
            cmd = [sys.executable, osp.abspath(__file__), '--child', impl, '--size', str(size),
                   '--tokens', str(args.tokens), '--frames', str(args.frames), '--dim',
                   str(args.dim), '--device', args.device, '--profile-texts',
                   str(args.profile_texts)] + (['--block', str(args.block)] if args.block else [])
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                sys.exit(f'benchmark child failed ({impl}, {size}):\n{out.stderr[-3000:]}')
            res = json.loads(out.stdout.strip().splitlines()[-1])
            by_impl[impl] = res
            results.append(res)
            line = (f'{size}x{size} {impl:6s}: {res["seconds"]:7.1f} s '
                    f'({res["cpu_seconds"]:.1f} CPU s, {res["threads"]} threads, load average '
                    f'{res["load"]:.1f}), extra memory {res["extra_mb"]:6.0f} MB (score matrix '
                    f'{res["scores_mb"]:.0f} MB), matmul {100 * res["matmul_share"]:3.0f}% of '
                    f'op time (profiled on {res["profiled_texts"]} texts)')
            if 'max_diff_vs_before' in res:
                line += f', max |after - before| {res["max_diff_vs_before"]:.1e} (16 texts)'
            print(line, flush=True)
        if len(by_impl) == 2:
            print(f'{size}x{size} speed-up before/after: '
                  f'{by_impl["before"]["seconds"] / by_impl["after"]["seconds"]:.2f}x', flush=True)
    return results


if __name__ == '__main__':
    main()
