"""Video chat with STAN-LLaVA: LLaVA-1.5 reading a video through the STAN branch of a
Mug-STAN checkpoint ([M] §IV-F, zero-shot: no instruction tuning).

    python demo/demo_video_chat.py VIDEO "What happens in the video?" \
        --llava llava-hf/llava-1.5-7b-hf --checkpoint mugstan_l14.pth --device cuda:0

``--llava`` is an HF id (downloaded into the HF cache when online) or a local directory;
``--checkpoint`` a Mug-STAN checkpoint file or http(s) URL, in mmstan's or the official
layout (only its STAN branch is taken). The other settings come from ``--config``
(configs/chat/stan_llava_1.5_7b.yaml: 12 frames, 144 tokens per frame); the choices are
explained in docs/video_chat.md. Needs the chat extra: ``pip install -e .[chat]``.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import os.path as osp  # noqa: E402
import time  # noqa: E402

from mmengine.config import DictAction  # noqa: E402

DEFAULT_CONFIG = osp.relpath(osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs', 'chat',
                                      'stan_llava_1.5_7b.yaml'))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('video', help='video file')
    parser.add_argument('question', help='what to ask about the video')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help=f'chat config (default {DEFAULT_CONFIG})')
    parser.add_argument('--llava', help="LLaVA: HF id or local directory (default: the config's)")
    parser.add_argument('--checkpoint', help='Mug-STAN checkpoint: file or http(s) URL')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    parser.add_argument('--frames', type=int, help="frames sampled from the video (default: the config's)")
    parser.add_argument('--spatial-pool', type=int, help='average-pool s x s patch cells per frame')
    parser.add_argument('--temporal-pool', type=int, help='average groups of this many frames')
    parser.add_argument('--no-branch', action='store_true',
                        help='LLaVA alone on the frames (no STAN branch; --checkpoint not needed)')
    parser.add_argument('--max-new-tokens', type=int, help='answer length limit')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='key=value overrides of the config')
    return parser.parse_args(argv)


def settings(args: argparse.Namespace):
    """The config with the command line's overrides applied."""
    from mmstan.utils.cli import load_config

    cfg = load_config(args.config, args.cfg_options)
    for key, value in (('llava', args.llava), ('checkpoint', args.checkpoint),
                       ('num_frames', args.frames), ('max_new_tokens', args.max_new_tokens)):
        if value is not None:
            cfg[key] = value
    for key, value in (('spatial_pool', args.spatial_pool), ('temporal_pool', args.temporal_pool)):
        if value is not None:
            cfg.tower[key] = value
    if args.no_branch:
        cfg.tower.use_branch = False
    return cfg


def chat(args: argparse.Namespace) -> None:
    import torch

    from mmstan.chat.frames import read_frames
    from mmstan.chat.llava import build_stan_llava

    cfg = settings(args)
    frames = read_frames(args.video, cfg.num_frames)  # before loading any model: fails fast
    dtype = getattr(torch, cfg.gpu_dtype) if str(args.device).startswith('cuda') else torch.float32
    tower = {k: v for k, v in cfg.tower.items() if v is not None}
    model = build_stan_llava(cfg.llava, cfg.checkpoint, args.device, dtype, dict(cfg.get('branch') or {}),
                             **tower)
    video = model.preprocess(frames).to(args.device)
    start = time.perf_counter()
    answer = model.chat(video, args.question, max_new_tokens=cfg.max_new_tokens)
    seconds = time.perf_counter() - start
    n = model.tower.num_tokens(cfg.num_frames)
    print(f'video tokens: {cfg.num_frames} frames -> {n} ({model.tower.tokens_per_frame} per '
          f'{model.tower.temporal_pool} frame(s)); branch {"on" if model.tower.use_branch else "off"}; '
          f'{seconds:.1f} s')
    print(f'USER: {args.question}')
    print(f'ASSISTANT: {answer}')


def main(argv=None) -> None:
    from mmstan.utils.cli import run_or_explain

    args = parse_args(argv)
    run_or_explain(lambda: chat(args))


if __name__ == '__main__':
    main()
