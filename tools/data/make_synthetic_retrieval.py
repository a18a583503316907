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

The generator is :func:`mmstan.datasets.synthetic.write_synthetic_retrieval`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmstan.datasets.synthetic import write_synthetic_retrieval  # noqa: E402


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
    write_synthetic_retrieval(args.out, args.num_train, args.num_test, args.captions, args.size,
                              args.frames, args.seed)


if __name__ == '__main__':
    main()
