"""STAN-LLaVA's token budget: video tokens for frame counts x spatial pooling, against
LLaVA-1.5's 4096-token context.

    python tools/analysis/chat_token_budget.py [--config configs/chat/stan_llava_1.5_7b.yaml]

Each cell is the number of video tokens (LLaVA-1.5 sees a 336 px frame as 24 x 24 = 576
patch tokens) and, in brackets, what the context leaves for the text: the config's
``max_new_tokens`` of answer and ``--prompt-tokens`` of prompt are subtracted. The config's
own setting is printed first. The counts are :mod:`mmstan.chat.token_budget`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import os.path as osp  # noqa: E402

from mmstan.chat.token_budget import LLAVA15_CONTEXT, LLAVA15_GRID, budget_table, video_tokens  # noqa: E402

DEFAULT_CONFIG = osp.relpath(osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'configs', 'chat',
                                      'stan_llava_1.5_7b.yaml'))


def main(argv=None) -> list:
    from mmstan.utils.cli import load_config, run_or_explain

    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help=f'chat config (default {DEFAULT_CONFIG})')
    parser.add_argument('--frames', type=int, nargs='+', default=[4, 8, 12, 16, 32], help='frame counts')
    parser.add_argument('--pools', type=int, nargs='+', default=[1, 2, 3, 4], help='spatial pooling sizes')
    parser.add_argument('--prompt-tokens', type=int, default=64, help='tokens kept for the prompt text')
    args = parser.parse_args(argv)
    out = []

    def run():
        cfg = load_config(args.config)
        text = cfg.max_new_tokens + args.prompt_tokens
        tower = cfg.tower
        n = video_tokens(cfg.num_frames, LLAVA15_GRID, tower.spatial_pool, tower.temporal_pool)
        print(f'{args.config}: {cfg.num_frames} frames, spatial_pool {tower.spatial_pool}, temporal_pool '
              f'{tower.temporal_pool} -> {n} video tokens + {text} text '
              f'({cfg.max_new_tokens} answer + {args.prompt_tokens} prompt) of {LLAVA15_CONTEXT}')
        print()
        out.extend(budget_table(args.frames, args.pools, text, temporal_pool=tower.temporal_pool))
        print('\n'.join(out))

    run_or_explain(run)
    return out


if __name__ == '__main__':
    main()
