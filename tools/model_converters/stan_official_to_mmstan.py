"""Convert an official STAN checkpoint (HF transformers CLIP naming) for mmstan.

    python tools/model_converters/stan_official_to_mmstan.py official.bin out.pth --num-frames 8

Then use ``load_from='out.pth'`` with a config whose backbone is
``CLIPSTAN(arch=<same CLIP>, preset='official', num_frames=8)``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from mmstan.errors import UserError  # noqa: E402
from mmstan.models.clip.weights import read_state_dict  # noqa: E402
from mmstan.models.official_checkpoint import convert_official  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (.bin / .pth)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--num-frames', type=int, default=8,
                        help='frames of the target config (rows of the temporal embedding)')
    parser.add_argument('--prefix', default='backbone.', help='prefix of the vision weights')
    args = parser.parse_args(argv)
    try:
        state = read_state_dict(args.src, 'give the official checkpoint\'s path')
    except UserError as err:
        raise SystemExit(f'error: {err}') from None
    converted, unmapped = convert_official(state, args.num_frames, args.prefix)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in converted.items()}}, args.dst)
    print(f'wrote {len(converted)} tensors to {args.dst}')
    if unmapped:
        print(f'{len(unmapped)} keys not converted (text tower / heads), e.g. {unmapped[:5]}')


if __name__ == '__main__':
    main()
