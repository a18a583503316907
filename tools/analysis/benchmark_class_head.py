"""Time of one pass of ``TextClassHead`` ([M] eq. 20) with Mug scoring against the
global cosine, measured side by side in one run.

    python tools/analysis/benchmark_class_head.py [--label-map FILE] [--classes 400] \
        [--batch 8 --frames 8 --dim 512 --context-length 32] [--repeats 30] [--device cpu] \
        [--threads N]

Both heads are built on one CLIP whose embedding width is ``--dim`` (its text tower is
small: it runs once per head to encode the class names, which are cached and are not part
of a head pass). The class names are the bare K400 names of ``--label-map`` (default:
mmaction2's K400 label map when present, else a built-in sample of K400 names, repeated),
tokenized to ``--context-length``, so the per-class token counts are the real ones. One
pass takes random ``[batch, frames, dim]`` frame embeddings to ``[batch, classes]`` logits;
three kinds of pass are timed:

- eval: forward under ``torch.no_grad()`` (testing, zero-shot);
- train forward: forward with autograd recording (the input requires grad);
- train forward+backward: that, plus the backward of the cross-entropy loss.

Mug and global passes alternate within each repeat, so that both see the same machine
load; the medians are printed with their ratio. The measurement is
:mod:`mmstan.analysis.benchmark_class_head`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import os.path as osp  # noqa: E402
from typing import List, Optional, Sequence  # noqa: E402

from mmstan.analysis.benchmark_class_head import (  # noqa: E402
    K400_LABEL_MAP,
    build_heads,
    class_names,
    load_average,
    measure,
)


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--label-map', default=None,
                        help='class names, one per line (default: the K400 label map if present)')
    parser.add_argument('--classes', type=int, default=400)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--frames', type=int, default=8)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--context-length', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch CPU threads (default: torch's; on a busy CPU 1 is steadier)")
    args = parser.parse_args(argv)
    import torch
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)   # in-process callers (tests) keep their setting


def _run(args: argparse.Namespace) -> List[dict]:
    import torch
    label_map = args.label_map or (K400_LABEL_MAP if osp.isfile(K400_LABEL_MAP) else None)
    names = class_names(label_map, args.classes)
    heads = build_heads(names, args.dim, args.context_length, args.device)
    lengths = heads['mug'].class_token_embeddings[1].sum(1).float()
    print(f'TextClassHead pass: {len(names)} classes '
          f'({osp.relpath(label_map) if label_map else "built-in K400 sample"}; tokens per name '
          f'incl. [SOT]/[EOT]: min {lengths.min():.0f}, mean {lengths.mean():.1f}, max '
          f'{lengths.max():.0f}; context {args.context_length}), batch {args.batch} x '
          f'{args.frames} frames, E={args.dim}, {args.device}, {torch.get_num_threads()} '
          f'threads, load average {load_average():.1f}; median of {args.repeats}', flush=True)
    results = measure(heads, args.batch, args.frames, args.dim, args.repeats, args.device)
    print(f'{"pass":24s} {"mug (ms)":>10s} {"global (ms)":>12s} {"mug/global":>11s}')
    for r in results:
        print(f'{r["kind"]:24s} {1e3 * r["mug_s"]:10.3f} {1e3 * r["global_s"]:12.3f} '
              f'{r["ratio"]:10.1f}x', flush=True)
    return results


if __name__ == '__main__':
    main()
