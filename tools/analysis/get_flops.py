"""Print GFLOPs per view and parameters of a config's video model.

    python tools/analysis/get_flops.py configs/stan/k400.py [--shape T H W]

GFLOPs follow the papers' (fvcore's) convention: multiply-accumulates, counted by
PyTorch's FlopCounterMode over backbone + head for one view (one clip, one crop);
for a retriever, its ``encode_video`` (backbone + the head's per-video part, e.g.
seqTransf's or CLIP2Video's temporal transformers). The counting is
:func:`mmstan.analysis.get_flops`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmengine.config import Config, DictAction  # noqa: E402

from mmstan.analysis import get_flops  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='GFLOPs per view and parameters')
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=3, metavar=('T', 'H', 'W'),
                        help='override frames and size of a view')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='key=value overrides, e.g. model.backbone.num_layers=6')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    result = get_flops(cfg, args.shape)
    c, t, h, w = result['shape']
    print(f'config: {args.config}')
    print(f'input per view: {c}x{t}x{h}x{w}')
    print(f'GFLOPs per view: {result["gflops"]:.1f}  (multiply-accumulates)')
    print(f'parameters: {result["params_m"]:.1f} M')
    return result


if __name__ == '__main__':
    main()
