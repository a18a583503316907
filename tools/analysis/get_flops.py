"""Print GFLOPs per view and parameters of a config's video model.

    python tools/analysis/get_flops.py configs/stan/k400.py [--shape T H W]

GFLOPs follow the papers' (fvcore's) convention: multiply-accumulates, counted by
PyTorch's FlopCounterMode over backbone + head for one view (one clip, one crop);
for a retriever, its ``encode_video`` (backbone + the head's per-video part, e.g.
seqTransf's or CLIP2Video's temporal transformers).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from mmstan.analysis import build_video_model, count_flops, video_input_shape  # noqa: E402


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
    c, t, h, w = video_input_shape(cfg)
    if args.shape:
        t, h, w = args.shape
    model = build_video_model(cfg)
    video = torch.randn(1, c, t, h, w)
    if hasattr(model, 'cls_head'):
        forward = lambda x: model.cls_head(model.backbone(x))  # noqa: E731
    elif hasattr(model, 'encode_video'):  # retrievers: backbone + the head's video side
        forward = model.encode_video
    else:
        forward = model.backbone
    macs = count_flops(forward, video)
    params = sum(p.numel() for p in model.parameters())
    result = dict(gflops=macs / 1e9, params_m=params / 1e6, shape=(c, t, h, w))
    print(f'config: {args.config}')
    print(f'input per view: {c}x{t}x{h}x{w}')
    print(f'GFLOPs per view: {result["gflops"]:.1f}  (multiply-accumulates)')
    print(f'parameters: {result["params_m"]:.1f} M')
    return result


if __name__ == '__main__':
    main()
