"""Train-step time and FLOPs of a retrieval config with TVTSv2 tube masking vs without,
side by side in one run (the same model and weights; only ``tube_mask_ratio`` changes).

    python tools/analysis/benchmark_tube_mask.py configs/stan/msrvtt.py --batch 2 --ratio 0.5

A train step is the whole retriever in training mode (video tower with the masking,
text tower, head, InfoNCE), backward and an AdamW step; the AdamW step (the same for both:
masking changes no parameter) is also reported apart. The two settings alternate
``--repeats`` times after one warm-up step each, and the medians are compared, so load
from other processes hits both alike. Wall time and this process's CPU time are both
given: on a shared machine the CPU time is the steadier measure of the work done.
FLOPs (multiply-accumulates) come from ``mmstan.analysis.count_flops``: the forward
alone and forward + backward. The measurement is
:func:`mmstan.analysis.benchmark_tube_mask.benchmark_tube_mask`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from mmstan.analysis.benchmark_tube_mask import benchmark_tube_mask  # noqa: E402
from mmstan.utils.cli import run_or_explain  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', nargs='?', default='configs/stan/msrvtt.py')
    parser.add_argument('--batch', type=int, default=2, help='videos (and captions) per step')
    parser.add_argument('--ratio', type=float, default=0.5, help='tube mask ratio to compare with 0')
    parser.add_argument('--repeats', type=int, default=3, help='timed steps per setting')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    r = benchmark_tube_mask(cfg, args.batch, args.ratio, args.repeats, name=args.config)
    _, t, h, w = r['shape']
    times, flops, ratios = r['times'], r['flops'], (0.0, args.ratio)

    def median(ratio: float, key: str) -> float:
        values = sorted(x[key] for x in times[ratio])
        return values[len(values) // 2]

    print(f'config: {args.config}; batch {args.batch} x {t} frames x {h}x{w} px, captions of '
          f'{r["text_tokens"]} tokens; {torch.get_num_threads()} CPU threads')
    print(f'tokens per frame in the video tower: 1 + {r["patches"]} (ratio 0) vs '
          f'1 + {r["kept"]} (ratio {args.ratio})')
    for ratio in ratios:
        print(f'ratio {ratio}: train step wall {median(ratio, "wall"):.2f} s (steps: '
              + ', '.join(f'{x["wall"]:.2f}' for x in times[ratio])
              + f'), CPU {median(ratio, "cpu"):.2f} s, of which AdamW wall '
              f'{median(ratio, "adamw_wall"):.2f} s; forward {flops[ratio][0] / 1e9:.1f} GFLOPs, '
              f'forward + backward {flops[ratio][1] / 1e9:.1f} GFLOPs')
    masked = args.ratio
    print(f'masked / unmasked: train-step wall time {median(masked, "wall") / median(0.0, "wall"):.3f}x, '
          f'CPU time {median(masked, "cpu") / median(0.0, "cpu"):.3f}x; '
          f'forward FLOPs {flops[masked][0] / flops[0.0][0]:.3f}x, '
          f'forward + backward FLOPs {flops[masked][1] / flops[0.0][1]:.3f}x')


if __name__ == '__main__':
    run_or_explain(main)
