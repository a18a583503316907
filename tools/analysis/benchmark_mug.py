"""Time and peak memory of exact Mug scoring (eqs. 11-18) of a full text x video gallery.

    python tools/analysis/benchmark_mug.py --size 1000 [--size 10000] [--tokens 32 --frames 12 --dim 512]

Each size runs in a fresh subprocess so its peak resident memory is its own; "extra
memory" is the peak minus the memory held once the random inputs exist.
"""
import argparse
import json
import os.path as osp
import resource
import subprocess
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def rss_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return 0.0


def run_one(size: int, tokens: int, frames: int, dim: int, block: int) -> dict:
    import torch
    import torch.nn.functional as F

    from mmstan.models.heads.mug_head import MugHead

    torch.manual_seed(0)
    text = F.normalize(torch.randn(size, tokens, dim), dim=-1)
    mask = torch.ones(size, tokens, dtype=torch.bool)
    mask[:, tokens // 2:] = torch.rand(size, 1) < 0.5  # half the captions are short
    pooled = F.normalize(torch.randn(size, dim), dim=-1)
    video = F.normalize(torch.randn(size, frames, dim), dim=-1)
    head = MugHead('mug', block_elements=block)
    base = rss_mb()
    start = time.perf_counter()
    scores = head.gallery(text, mask, pooled, video)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert scores.shape == (size, size) and torch.isfinite(scores).all()
    return dict(size=size, seconds=seconds, extra_mb=peak - base, inputs_mb=base,
                scores_mb=scores.numel() * 4 / 2 ** 20)


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, action='append', help='gallery size N (N x N)')
    parser.add_argument('--tokens', type=int, default=32)
    parser.add_argument('--frames', type=int, default=12)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--block', type=int, default=2 ** 24, help='MugHead.block_elements')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = args.size or [1000]
    if args.child:
        print(json.dumps(run_one(sizes[0], args.tokens, args.frames, args.dim, args.block)))
        return []
    results = []
    for size in sizes:
        out = subprocess.run([sys.executable, __file__, '--child', '--size', str(size), '--tokens',
                              str(args.tokens), '--frames', str(args.frames), '--dim', str(args.dim),
                              '--block', str(args.block)], capture_output=True, text=True,
                             check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f'{size}x{size} (K={args.tokens}, T={args.frames}, E={args.dim}): '
              f'{res["seconds"]:.1f} s, extra memory {res["extra_mb"]:.0f} MB '
              f'(of which the score matrix {res["scores_mb"]:.0f} MB; inputs {res["inputs_mb"]:.0f} MB)',
              flush=True)
    return results


if __name__ == '__main__':
    main()
