"""Write a small synthetic video-text retrieval set shaped like MSVD: mp4 clips of a shape
moving left, right, up or down (``make_synthetic_motion.py``'s clips), each with several
captions, in mmstan's caption JSON (``VideoCaptionDataset``).

Output (in ``--out``)::

    videos/{train,test}/NNNNN.mp4
    train.json, test.json     {"test/00000.mp4": ["a red circle moving left", ...], ...}

MSVD's test videos have ~41 captions each; ``--captions 10`` (the default) keeps the
shape (several captions per video, t2v per caption, v2t per video) at a small size, and
``--captions 1`` gives a one-caption-per-video set (MSR-VTT 1k-A / LSMDC shape).

Usage::

    python tools/data/make_synthetic_retrieval.py --out data/synthetic_retrieval \\
        --num-test 30 --captions 10
    # with any retrieval config:
    python tools/test.py configs/mugstan/msvd.py CKPT --cfg-options \\
        test_dataloader.dataset.data_root=data/synthetic_retrieval
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List

import numpy as np
from tqdm import tqdm

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from make_synthetic_motion import CLASSES, make_clip, write_video  # noqa: E402

TEMPLATES = (
    'a {color} {shape} moving {direction}',
    'the {shape} moves {direction}',
    '{color} {shape} going {direction}',
    'a {shape} that is {color} travels {direction}',
    'something {color} slides {direction}',
    'a {color} {shape} on a grey background heading {direction}',
    'the {color} object goes {direction}',
    'a {shape} in {color} drifting {direction}',
    'a video of a {color} {shape} moving {direction}',
    'watch the {color} {shape} move {direction}',
)


def captions_for(shape: str, color: str, label: int, count: int) -> List[str]:
    """``count`` captions of one clip (the templates in turn, repeated if count > 10)."""
    direction = CLASSES[label].split()[1]
    return [TEMPLATES[i % len(TEMPLATES)].format(color=color, shape=shape, direction=direction)
            for i in range(count)]


def make_split(out: str, split: str, num: int, captions: int, rng: np.random.Generator,
               size: int, frames: int) -> None:
    os.makedirs(osp.join(out, 'videos', split), exist_ok=True)
    ann = {}
    for i in tqdm(range(num), desc=f'{split} clips', unit='clip'):
        label = int(rng.integers(len(CLASSES)))
        clip, shape, color = make_clip(rng, label, size, frames, noise=4.0)
        name = f'{split}/{i:05d}.mp4'
        write_video(osp.join(out, 'videos', name), clip)
        ann[name] = captions_for(shape, color, label, captions)
    with open(osp.join(out, f'{split}.json'), 'w') as f:
        json.dump(ann, f, indent=0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/synthetic_retrieval', help='output folder')
    parser.add_argument('--num-train', type=int, default=80)
    parser.add_argument('--num-test', type=int, default=30)
    parser.add_argument('--captions', type=int, default=10, help='captions per video')
    parser.add_argument('--size', type=int, default=32, help='frame size in pixels')
    parser.add_argument('--frames', type=int, default=8,
                        help='frames per clip (at most 10: the shape must stay in the frame)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if not 2 <= args.frames <= 10 or args.size < 32:
        parser.error('--frames must be 2-10 and --size at least 32 (the moving shape must fit)')
    rng = np.random.default_rng(args.seed)
    make_split(args.out, 'train', args.num_train, args.captions, rng, args.size, args.frames)
    make_split(args.out, 'test', args.num_test, args.captions, rng, args.size, args.frames)
    print(f'wrote {args.num_train} train and {args.num_test} test clips with {args.captions} '
          f'captions each to {args.out}')


if __name__ == '__main__':
    main()
