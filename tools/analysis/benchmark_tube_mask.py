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
alone and forward + backward.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import open_clip  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from mmstan.analysis import build_video_model, count_flops, video_input_shape  # noqa: E402
from mmstan.errors import UserError  # noqa: E402
from mmstan.models.clip.tube_mask import num_kept  # noqa: E402
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


def caption_length(cfg: Config) -> int:
    """Tokens per caption of the config's training pipeline (``OpenCLIPTokenize``)."""
    steps = list(cfg.train_dataloader.dataset.pipeline)
    return next((t.get('context_length', 32) for t in steps if t['type'] == 'OpenCLIPTokenize'), 32)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('type') != 'VideoTextRetriever':
        raise UserError(f'{args.config}: model.type is {cfg.model.get("type")!r}; this benchmark '
                        'times a VideoTextRetriever train step (a retrieval config)')
    torch.manual_seed(0)
    model = build_video_model(cfg).train()
    backbone = model.backbone
    if not hasattr(backbone, 'tube_mask_ratio'):
        raise UserError(f'{args.config}: model.backbone ({type(backbone).__name__}) has no '
                        'tube masking; use a CLIPSTAN config')
    c, t, h, w = video_input_shape(cfg)
    imgs = torch.randn(args.batch, 1, c, t, h, w)
    captions = [f'caption number {i} of a video' for i in range(args.batch)]
    text = open_clip.tokenize(captions, context_length=caption_length(cfg))
    inputs = dict(imgs=imgs, text=text)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-7)

    def step() -> dict:
        """One train step; wall and CPU seconds of the step and of its AdamW part."""
        wall, cpu = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        sum(model(inputs, mode='loss').values()).backward()
        opt_wall, opt_cpu = time.perf_counter(), time.process_time()
        optimizer.step()
        end_wall, end_cpu = time.perf_counter(), time.process_time()
        return dict(wall=end_wall - wall, cpu=end_cpu - cpu, adamw_wall=end_wall - opt_wall,
                    adamw_cpu=end_cpu - opt_cpu)

    def forward() -> None:
        model(inputs, mode='loss')

    def forward_backward() -> None:
        sum(model(inputs, mode='loss').values()).backward()
        model.zero_grad(set_to_none=True)

    ratios = (0.0, args.ratio)
    grid = backbone.clip.grid_size
    patches = grid[0] * grid[1]
    times = {r: [] for r in ratios}  # per step: dict of step()
    flops = {}
    for ratio in ratios:
        backbone.tube_mask_ratio = ratio
        flops[ratio] = (count_flops(forward), count_flops(forward_backward))
        step()  # warm-up
    for _ in range(args.repeats):
        for ratio in ratios:
            backbone.tube_mask_ratio = ratio
            times[ratio].append(step())

    def median(ratio: float, key: str) -> float:
        values = sorted(x[key] for x in times[ratio])
        return values[len(values) // 2]

    print(f'config: {args.config}; batch {args.batch} x {t} frames x {h}x{w} px, captions of '
          f'{text.shape[1]} tokens; {torch.get_num_threads()} CPU threads')
    print(f'tokens per frame in the video tower: 1 + {patches} (ratio 0) vs '
          f'1 + {num_kept(patches, args.ratio)} (ratio {args.ratio})')
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
