"""Write the synthetic motion dataset: small mp4 clips of a shape moving left, right,
up or down over a low-noise background.

Every trajectory's reverse is equally likely, so any single frame (and the unordered
set of frames) carries no information about the direction's sense: a model that pools
frames without temporal order can at best tell the axis (about 50% accuracy), while a
temporal model can reach 100%.

Output (in ``--out``)::

    videos/{train,val}/NNNNN.mp4       the clips
    train.txt, val.txt                 mmaction2 VideoDataset lists: ``train/00000.mp4 2``
    train_captions.json, val_captions.json   ``{"train/00000.mp4": [caption, ...]}``
    classes.txt                        label map, one class name per line

Usage: ``python tools/data/make_synthetic_motion.py --out data/synthetic_motion``
(the generator is :func:`mmstan.datasets.synthetic.write_synthetic_motion`).
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmstan.datasets.synthetic import write_synthetic_motion  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/synthetic_motion', help='output folder')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=400)
    parser.add_argument('--size', type=int, default=32, help='frame size in pixels')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip')
    parser.add_argument('--noise', type=float, default=4.0, help='background noise std')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    write_synthetic_motion(args.out, args.num_train, args.num_val, args.size, args.frames,
                           args.noise, args.seed)


if __name__ == '__main__':
    main()
