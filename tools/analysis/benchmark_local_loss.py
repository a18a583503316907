"""Per-rank time and peak memory of the retriever's contrastive loss on gathered features
(no towers), global loss against local loss, side by side in one run.

    python tools/analysis/benchmark_local_loss.py [--batch 256 --batch 1024] [--world 8] \
        [--head mug --head mean] [--tokens 32 --frames 12 --dim 512] [--max-gb 12]

One rank's share of a step with W ranks and a global batch of B pairs, simulated in one
process (no process group): the gathered features are random ``tokens [B, K, E]``,
``mask``, ``pooled [B, E]`` and ``frames [B, T, E]`` with gradients;

- global: the head scores all ``B x B`` pairs, InfoNCE both ways, backward;
- local: the head scores the rank's ``B / W`` captions x all B videos and all B captions
  x its ``B / W`` videos (``2 B² / W`` pairs), InfoNCE both ways, backward.

Time: the median of ``--repeats`` forward + backward passes (wall clock), both losses
interleaved in one subprocess per (head, B) so that other work on the same cores slows
both alike. Extra memory: the peak RSS minus the RSS once the features exist, each case in
a fresh subprocess. A case whose memory, extrapolated
from the smallest measured case of its head by the number of pairs, exceeds ``--max-gb``
is not run and its cell says so (linear in pairs over-estimates: the blocked Mug scorer
grows slower). The measurement is :mod:`mmstan.analysis.benchmark_local_loss`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import json  # noqa: E402
import os.path as osp  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from mmstan.analysis import benchmark_local_loss as bench  # noqa: E402


def _child(args, head: str, batch: int, what: str) -> dict:
    """``what``: ``'time:global,local'`` (both timed, interleaved) or ``'memory:LOSS'``."""
    cmd = [sys.executable, osp.abspath(__file__), '--child', head, what, '--batch', str(batch),
           '--world', str(args.world), '--tokens', str(args.tokens), '--frames', str(args.frames),
           '--dim', str(args.dim), '--repeats', str(args.repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f'benchmark child failed ({head}, {what}, B={batch}):\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run_child(args, batch: int) -> dict:
    head, what = args.child
    kind, losses = what.split(':')
    shape = (batch, args.world, args.tokens, args.frames, args.dim)
    if kind == 'time':
        return bench.time_losses(head, losses.split(','), *shape, args.repeats)
    return bench.peak_memory(head, losses, *shape)


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--batch', type=int, action='append', help='global batch B (default 256, 1024)')
    parser.add_argument('--world', type=int, default=8, help='ranks W (B must be a multiple)')
    parser.add_argument('--head', choices=bench.HEADS, action='append', help='default: mug and mean')
    parser.add_argument('--tokens', type=int, default=32, help='caption tokens K')
    parser.add_argument('--frames', type=int, default=12, help='frames T')
    parser.add_argument('--dim', type=int, default=512, help='embedding width E')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--max-gb', type=float, default=12.0,
                        help='skip a case whose extrapolated extra memory exceeds this (the '
                        'extrapolation is linear in pairs, an upper bound: Mug at B=1024 '
                        'measured 3.4 GB where B=256 extrapolates to 7-10 GB)')
    parser.add_argument('--child', nargs=2, metavar=('HEAD', 'LOSS'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    batches = sorted(args.batch or [256, 1024])
    if args.child:
        print(json.dumps(_run_child(args, batches[0])))
        return []
    if any(b % args.world for b in batches):
        parser.error(f'every --batch must be a multiple of --world {args.world}')
    print(f'One rank of W={args.world}: loss on gathered features, K={args.tokens} tokens, '
          f'T={args.frames} frames, E={args.dim}, CPU; time = median of {args.repeats} forward + '
          'backward, both losses interleaved in one process; memory = peak RSS minus RSS with '
          'the features, each case in a fresh process (MB)', flush=True)
    rows, results = [], []
    for head in args.head or list(bench.HEADS):
        smallest = None
        for batch in batches:
            row = dict(head=head, batch=batch, world=args.world)
            for loss in bench.LOSSES:
                pairs = bench.pairs_per_rank(loss, batch, args.world)
                estimate = bench.estimate_mb(smallest, pairs) / 1024 if smallest else 0.0
                if estimate > args.max_gb:
                    row[loss] = dict(pairs=pairs, skipped=f'not run: ~{estimate:.0f} GB estimated '
                                     f'> --max-gb {args.max_gb:g}')
                    continue
                res = row[loss] = dict(pairs=pairs, loss=loss, head=head, batch=batch,
                                       **_child(args, head, batch, f'memory:{loss}'))
                if smallest is None or res['pairs'] < smallest['pairs']:
                    smallest = res
            ran = [loss for loss in bench.LOSSES if 'skipped' not in row[loss]]
            timing = _child(args, head, batch, 'time:' + ','.join(ran)) if ran else {}
            for loss in ran:
                row[loss].update(seconds=timing['seconds'][loss], load=timing['load'],
                                 threads=timing['threads'])
                results.append(row[loss])
                print(f'{head} B={batch} {loss}: {row[loss]["seconds"]:.3f} s, '
                      f'{row[loss]["extra_mb"]:.0f} MB ({timing["threads"]} threads, load average '
                      f'{timing["load"]:.1f})', flush=True)
            rows.append(row)
    print(bench.markdown_table(rows))
    return results


if __name__ == '__main__':
    main()
