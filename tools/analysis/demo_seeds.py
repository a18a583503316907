"""Train the demo retriever on several seeds, with the Mug head and with mean pooling, and
print the t2v R@1 each run measured (the standard retrieval test loop and metric).

    python tools/analysis/demo_seeds.py                      # seeds 0-4, modes mug and mean
    python tools/analysis/demo_seeds.py --epochs 2 --modes mug mug_sot mean

Every run is ``configs/demo/synthetic_motion_retrieval.py`` (tiny random-init CLIP-STAN,
its optimiser and schedule) on the synthetic motion set (``tools/data/make_synthetic_motion.py``,
written to ``--data`` when missing, as ``tools/demo.py`` does), tested on its val split;
only the seed and the head change. Modes: ``mug`` = the demo's head (Mug without
[SOT], ``drop_sot=True``); ``mug_sot`` = Mug over every real token, [SOT] included (the
official head's token set, the demo before issue 16 defect 4); ``mean`` = mean pooling
(``MeanPHead``). A final train loss of 2 ln(batch) means every score equal
(collapse). The runs are :mod:`mmstan.analysis.demo_seeds`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os.path as osp  # noqa: E402
import tempfile  # noqa: E402
from typing import Dict  # noqa: E402

from mmstan.analysis.compare_heads import FINAL_ITERS  # noqa: E402
from mmstan.analysis.demo_seeds import DEMO, MODES, demo_seeds, format_table  # noqa: E402
from mmstan.utils.paths import REPO_ROOT  # noqa: E402


def main(argv=None) -> Dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', default=osp.join(REPO_ROOT, 'data', 'synthetic_motion'),
                        help='synthetic motion set (written here when missing)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument('--modes', nargs='+', choices=list(MODES), default=['mug', 'mean'])
    parser.add_argument('--epochs', type=int, default=None,
                        help="training epochs (default: the demo config's 6)")
    parser.add_argument('--num-train', type=int, default=None,
                        help='training clips when the data is written (default: the generator\'s)')
    parser.add_argument('--num-val', type=int, default=None,
                        help='val clips when the data is written (default: the generator\'s)')
    parser.add_argument('--work-dir', default=None, help='run folders (default: a temporary one)')
    args = parser.parse_args(argv)
    data = osp.abspath(args.data)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='demo_seeds_')
    result = demo_seeds(data, args.seeds, args.modes, work_dir, args.epochs, args.num_train,
                        args.num_val)
    rows, epochs, batch = result['rows'], result['epochs'], result['batch']
    with open(osp.join(data, 'val_captions.json')) as f:
        val = json.load(f)
    captions = sum(len(c) for c in val.values())
    print(f'\nt2v R@1 (%) on the val split of {data} ({len(val)} videos, {captions} captions; '
          f'chance {100 / len(val):.2f}) after {epochs} epochs of {osp.relpath(DEMO, REPO_ROOT)} '
          f'(batch {batch}); loss = mean train loss (L_t2v + L_v2t) of the last {FINAL_ITERS} '
          f'iterations, 2 ln(batch) = {2 * math.log(batch):.2f} means every score equal (collapse):')
    print(format_table(rows, args.seeds))
    return rows


if __name__ == '__main__':
    main()
