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
(collapse).
"""
import argparse
import json
import math
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from compare_heads import FINAL_ITERS, train_and_test  # noqa: E402
from mmengine.config import Config  # noqa: E402

DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
#: mode -> (row label, the head in place of the demo config's)
MODES = {
    'mug': ('Mug, no [SOT] (demo head)', dict(type='MugHead', mode='mug', drop_sot=True)),
    'mug_sot': ('Mug with [SOT] (official token set)', dict(type='MugHead', mode='mug')),
    'mean': ('mean pooling', dict(type='MeanPHead')),
}


def ensure_data(path: str, num_train: Optional[int], num_val: Optional[int]) -> None:
    """Write the synthetic motion set to ``path`` unless a current one is there."""
    from make_synthetic_motion import FORMAT_VERSION
    from make_synthetic_motion import main as make
    meta = osp.join(path, 'meta.json')
    if osp.isfile(meta) and json.load(open(meta)).get('format_version') == FORMAT_VERSION:
        return
    print(f'writing the synthetic motion set to {path}', flush=True)
    sizes = [] if num_train is None else ['--num-train', str(num_train)]
    sizes += [] if num_val is None else ['--num-val', str(num_val)]
    make(['--out', path, *sizes])


def run_config(mode: str, seed: int, data: str, work_dir: str, epochs: Optional[int]) -> Config:
    """The demo config with ``mode``'s head and ``seed``, tested once on the val split."""
    cfg = Config.fromfile(DEMO)
    cfg.model.head = dict(MODES[mode][1])
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data
    if epochs is not None:
        warmup, cosine = cfg.param_scheduler  # warmup 1 epoch, cosine over the rest
        cfg.train_cfg.max_epochs = epochs
        cosine.update(end=epochs, T_max=epochs - 1)
        cfg.param_scheduler = [warmup, cosine] if epochs > 1 else [warmup]
    cfg.train_cfg.val_interval = 10 ** 9  # evaluated once, by the test loop, after training
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10 ** 9)
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = osp.join(work_dir, f'{mode}_seed{seed}')
    cfg.experiment_name = f'demo_seeds_{mode}_seed{seed}'
    return cfg


def format_table(rows: Dict[str, dict], seeds: List[int]) -> str:
    header = (['head'] + [f'R@1 seed {s}' for s in seeds] + ['R@1 mean', 'R@1 min']
              + [f'loss seed {s}' for s in seeds])
    lines = []
    for mode, row in rows.items():
        r1 = [row['r1'][s] for s in seeds]
        lines.append([MODES[mode][0]] + [f'{v:.1f}' for v in r1]
                     + [f'{sum(r1) / len(r1):.1f}', f'{min(r1):.1f}']
                     + [f'{row["loss"][s]:.2f}' for s in seeds])
    widths = [max(len(x) for x in col) for col in zip(header, *lines)]
    fmt = '| ' + ' | '.join('{:<' + str(w) + '}' for w in widths) + ' |'
    out = [fmt.format(*header), '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    return '\n'.join(out + [fmt.format(*line) for line in lines])


def main(argv=None) -> Dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', default=osp.join(ROOT, 'data', 'synthetic_motion'),
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
    import mmstan  # noqa: F401  (registers the models)

    data = osp.abspath(args.data)
    ensure_data(data, args.num_train, args.num_val)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='demo_seeds_')
    rows = {mode: dict(r1={}, loss={}) for mode in args.modes}
    runs = [(seed, mode) for seed in args.seeds for mode in args.modes]
    epochs = batch = None
    for i, (seed, mode) in enumerate(runs, 1):
        cfg = run_config(mode, seed, data, work_dir, args.epochs)
        epochs, batch = cfg.train_cfg.max_epochs, cfg.train_dataloader.batch_size
        start = time.time()
        metrics = train_and_test(cfg)
        rows[mode]['r1'][seed] = metrics['retrieval/t2v/R1']
        rows[mode]['loss'][seed] = metrics['final_loss']
        print(f'[{i}/{len(runs)}] {MODES[mode][0]}, seed {seed}: t2v R@1 '
              f'{metrics["retrieval/t2v/R1"]:.1f}, final train loss {metrics["final_loss"]:.2f} '
              f'({time.time() - start:.0f} s)', flush=True)
    with open(osp.join(data, 'val_captions.json')) as f:
        val = json.load(f)
    captions = sum(len(c) for c in val.values())
    print(f'\nt2v R@1 (%) on the val split of {data} ({len(val)} videos, {captions} captions; '
          f'chance {100 / len(val):.2f}) after {epochs} epochs of {osp.relpath(DEMO, ROOT)} '
          f'(batch {batch}); loss = mean train loss (L_t2v + L_v2t) of the last {FINAL_ITERS} '
          f'iterations, 2 ln(batch) = {2 * math.log(batch):.2f} means every score equal (collapse):')
    print(format_table(rows, args.seeds))
    return rows


if __name__ == '__main__':
    main()
