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

The measurement is :mod:`mmstan.analysis.benchmark_mug`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import json  # noqa: E402
import os.path as osp  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from mmstan.analysis.benchmark_mug import IMPLS, run_one  # noqa: E402


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
