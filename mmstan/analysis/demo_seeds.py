"""Train the demo retriever on several seeds, with the Mug head and with mean pooling, and
measure the t2v R@1 of each run (the standard retrieval test loop and metric): the library
of ``tools/analysis/demo_seeds.py``, whose docstring describes the modes.

Every run is ``configs/demo/synthetic_motion_retrieval.py`` (tiny random-init CLIP-STAN,
its optimiser and schedule) on the synthetic motion set (:mod:`mmstan.datasets.synthetic`),
tested on its val split; only the seed and the head change.
"""
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from mmstan.datasets.synthetic import motion_set_is_current, write_synthetic_motion
from mmstan.utils.paths import REPO_ROOT

from .compare_heads import measured_run, train_and_test

DEMO = osp.join(REPO_ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
#: mode -> (row label, the head in place of the demo config's)
MODES = {
    'mug': ('Mug, no [SOT] (demo head)', dict(type='MugHead', mode='mug', drop_sot=True)),
    'mug_sot': ('Mug with [SOT] (official token set)', dict(type='MugHead', mode='mug')),
    'mean': ('mean pooling', dict(type='MeanPHead')),
}


def ensure_data(path: str, num_train: Optional[int], num_val: Optional[int]) -> None:
    """Write the synthetic motion set to ``path`` unless a current one is there (sizes
    None: the generator's defaults)."""
    if motion_set_is_current(path):
        return
    print(f'writing the synthetic motion set to {path}', flush=True)
    sizes = {k: v for k, v in dict(num_train=num_train, num_val=num_val).items() if v is not None}
    write_synthetic_motion(path, **sizes)


def run_config(mode: str, seed: int, data: str, work_dir: str, epochs: Optional[int]) -> Config:
    """The demo config with ``mode``'s head and ``seed``, tested once on the val split."""
    cfg = Config.fromfile(DEMO)
    cfg.model.head = dict(MODES[mode][1])
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data
    return measured_run(cfg, seed, osp.join(work_dir, f'{mode}_seed{seed}'),
                        f'demo_seeds_{mode}_seed{seed}', epochs)


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


def demo_seeds(data: str, seeds: Sequence[int], modes: Sequence[str], work_dir: str,
               epochs: Optional[int] = None, num_train: Optional[int] = None,
               num_val: Optional[int] = None) -> dict:
    """Train and test the demo retriever with every head of ``modes`` (keys of
    :data:`MODES`) and every seed on the synthetic motion set in ``data`` (written there,
    with ``num_train`` / ``num_val`` clips, when missing), printing a line per run.
    Returns ``dict(rows={mode: dict(r1={seed: t2v R@1}, loss={seed: final train loss})},
    epochs, batch)``."""
    import mmstan  # noqa: F401  (registers the models)

    ensure_data(data, num_train, num_val)
    rows = {mode: dict(r1={}, loss={}) for mode in modes}
    runs = [(seed, mode) for seed in seeds for mode in modes]
    epochs_run = batch = None
    for i, (seed, mode) in enumerate(runs, 1):
        cfg = run_config(mode, seed, data, work_dir, epochs)
        epochs_run, batch = cfg.train_cfg.max_epochs, cfg.train_dataloader.batch_size
        start = time.time()
        metrics = train_and_test(cfg)
        rows[mode]['r1'][seed] = metrics['retrieval/t2v/R1']
        rows[mode]['loss'][seed] = metrics['final_loss']
        print(f'[{i}/{len(runs)}] {MODES[mode][0]}, seed {seed}: t2v R@1 '
              f'{metrics["retrieval/t2v/R1"]:.1f}, final train loss {metrics["final_loss"]:.2f} '
              f'({time.time() - start:.0f} s)', flush=True)
    return dict(rows=rows, epochs=epochs_run, batch=batch)
