"""The mmstan demo: generate the synthetic motion set, train tiny models on CPU with the
standard mmengine Runner, and print their validation accuracy side by side.

    python tools/demo.py            # or: make demo

Every model sees the same clips with the same recipe; only the temporal modelling
differs. A model that pools frames without order can at best tell the axis of motion
(about 50%), never its sense; STAN can tell both.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import json  # noqa: E402
import os.path as osp  # noqa: E402
import time  # noqa: E402

from mmstan.datasets.synthetic import motion_set_is_current, write_synthetic_motion  # noqa: E402
from mmstan.utils.paths import REPO_ROOT as ROOT  # noqa: E402

#: (name shown, config) of every model the demo trains, in order.
MODELS = [
    ('mean pooling (CLIP baseline)', 'configs/demo/synthetic_motion_meanpool.py'),
    ('STAN (2 layers, temporal attention)', 'configs/demo/synthetic_motion_stan.py'),
]


def ensure_data(data_root: str) -> None:
    if motion_set_is_current(data_root):
        print(f'[demo] using the synthetic motion set in {data_root}')
        return
    print(f'[demo] generating the synthetic motion set in {data_root}')
    write_synthetic_motion(data_root)


def progress_hook(name: str):
    """A hook printing one line per validation epoch (the Runner's log is kept quiet)."""
    from mmengine.hooks import Hook

    class DemoProgress(Hook):
        priority = 'LOWEST'

        def after_val_epoch(self, runner, metrics=None) -> None:
            acc = (metrics or {}).get('acc/top1', float('nan'))
            print(f'[demo]   {name}: epoch {runner.epoch}/{runner.max_epochs} '
                  f'val top-1 {100 * acc:5.1f}%', flush=True)

    return DemoProgress()


def train_one(name: str, config: str, data_root: str, work_dir: str,
              epochs: int = None) -> list:
    """Train ``config`` on the demo data; returns per-epoch validation accuracies."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import mmstan  # noqa: F401

    cfg = Config.fromfile(osp.join(ROOT, config))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    if epochs:  # shorten the recipe (smoke tests); the schedules end with the run
        cfg.train_cfg.max_epochs = epochs
        cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True,
                                    begin=0, end=epochs, convert_to_iter_based=True)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1, save_last=False)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(progress_hook(name))
    runner.train()
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        rows = [json.loads(line) for line in f]
    return [r['acc/top1'] for r in rows if 'acc/top1' in r]


def save_curves(results: dict, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, res in results.items():
        ax.plot(range(1, len(res['curve']) + 1), [100 * a for a in res['curve']], marker='o',
                label=name)
    ax.axhline(50, color='gray', ls=':', lw=1, label='best without frame order (axis only)')
    ax.set(xlabel='epoch', ylabel='validation top-1 (%)', ylim=(0, 102),
           title='Synthetic motion directions (4 classes)')
    ax.legend(loc='lower right', fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', default=osp.join(ROOT, 'data', 'synthetic_motion'))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--epochs', type=int, help='override the configs\' epochs (smoke test)')
    args = parser.parse_args(argv)
    start = time.time()
    ensure_data(args.data)
    results = {}
    for name, config in MODELS:
        t0 = time.time()
        print(f'[demo] training {name}: {config}', flush=True)
        run_dir = osp.join(args.work_dir, osp.splitext(osp.basename(config))[0])
        curve = train_one(name, config, args.data, run_dir, args.epochs)
        results[name] = dict(curve=curve, seconds=time.time() - t0)
    png = osp.join(args.work_dir, 'curves.png')
    save_curves(results, png)
    print('\n[demo] validation accuracy on the synthetic motion directions (4 classes, '
          'chance 25%):')
    for name, res in results.items():
        print(f'  {name:<38} top-1 {100 * res["curve"][-1]:5.1f}%  '
              f'(best {100 * max(res["curve"]):5.1f}%, {res["seconds"]:.0f} s)')
    print(f'[demo] curves saved to {png}; total wall time {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
