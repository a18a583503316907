"""Compare the video heads side by side: the same short CPU training on the synthetic
retrieval set for mean pooling (CLIP4Clip meanP), seqTransf, CLIP2Video, STAN and STAN +
Mug, each seed with the same data order and schedule, then t2v R@1 on the test split
from the standard retrieval test loop and metric. Prints a table of what it measured.

    python tools/analysis/compare_heads.py --seeds 0 1

Every run is ``configs/demo/synthetic_motion_retrieval.py`` (tiny random-init CLIP,
8 frames, its optimiser and schedule) with only the model's backbone and head swapped.
The tiny CLIP's text tower has 2 layers, so seqTransf and CLIP2Video use 2-layer temporal
transformers here (all copied from the text layers, as the 4 of the B/32 configs are).
The data (``tools/data/make_synthetic_retrieval.py``, default sizes) is written to
``--data`` when it is not there. The runs are :mod:`mmstan.analysis.compare_heads`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os.path as osp  # noqa: E402
import tempfile  # noqa: E402
from typing import List  # noqa: E402

from mmstan.analysis.compare_heads import DEMO, FINAL_ITERS, HEADS, compare_heads, format_table  # noqa: E402
from mmstan.utils.paths import REPO_ROOT  # noqa: E402


def main(argv=None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', default=osp.join(REPO_ROOT, 'data', 'synthetic_retrieval'),
                        help='synthetic retrieval set (written here when missing)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--heads', nargs='+', choices=list(HEADS), default=list(HEADS))
    parser.add_argument('--epochs', type=int, default=None,
                        help="training epochs (default: the demo config's)")
    parser.add_argument('--work-dir', default=None, help='run folders (default: a temporary one)')
    args = parser.parse_args(argv)
    data = osp.abspath(args.data)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='compare_heads_')
    result = compare_heads(data, args.seeds, args.heads, work_dir, args.epochs)
    epochs, batch = result['epochs'], result['batch']
    with open(osp.join(data, 'test.json')) as f:
        test = json.load(f)
    captions = sum(len(c) for c in test.values())
    print(f'\nt2v R@1 (%) on the test split of {data} ({len(test)} videos, {captions} captions; '
          f'chance {100 / len(test):.1f}), after the same {epochs}-epoch CPU training (tiny '
          f'random-init CLIP, {osp.relpath(DEMO, REPO_ROOT)} schedule); final loss = mean train loss '
          f'(L_t2v + L_v2t) of the last {FINAL_ITERS} iterations, where 2 ln(batch {batch}) = '
          f'{2 * math.log(batch):.2f} means every score equal (collapse):')
    print(format_table(result['rows'], args.seeds))
    return result['rows']


if __name__ == '__main__':
    main()
