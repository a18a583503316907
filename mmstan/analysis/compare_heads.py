"""Compare the video heads side by side: the same short CPU training on the synthetic
retrieval set for mean pooling (CLIP4Clip meanP), seqTransf, CLIP2Video, STAN and STAN +
Mug, each seed with the same data order and schedule, then the standard retrieval test
loop and metric on the test split (the library of ``tools/analysis/compare_heads.py``).

Every run is ``configs/demo/synthetic_motion_retrieval.py`` (tiny random-init CLIP,
8 frames, its optimiser and schedule) with only the model's backbone and head swapped.
The tiny CLIP's text tower has 2 layers, so seqTransf and CLIP2Video use 2-layer temporal
transformers here (all copied from the text layers, as the 4 of the B/32 configs are).
"""
import copy
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from mmstan.datasets.synthetic import retrieval_set_exists, write_synthetic_retrieval
from mmstan.utils.paths import REPO_ROOT

#: Iterations the final train loss is averaged over.
FINAL_ITERS = 10
DEMO = osp.join(REPO_ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
MEAN_POOL = dict(type='CLIPMeanPool', input_resolution=32)
#: name -> (row label, backbone (None: the demo's CLIPSTAN), head)
HEADS = {
    'mean': ('mean pooling (CLIP4Clip meanP)', MEAN_POOL, dict(type='MeanPHead')),
    'seqtransf': ('seqTransf (CLIP4Clip)', MEAN_POOL, dict(type='SeqTransfHead', num_layers=2)),
    'clip2video': ('CLIP2Video (TDB + TAB, K=5)', MEAN_POOL,
                   dict(type='CLIP2VideoHead', num_layers=2, num_centers=5, global_weight=0.5)),
    'stan': ('STAN (mean similarity)', None, dict(type='MeanPHead')),
    # the demo's Mug head: without [SOT] (drop_sot, see the demo config's header)
    'stan_mug': ('STAN + Mug', None, dict(type='MugHead', mode='mug', drop_sot=True)),
}


def ensure_data(path: str) -> None:
    """Write the synthetic retrieval set to ``path`` unless it is there."""
    if retrieval_set_exists(path):
        return
    print(f'writing the synthetic retrieval set to {path}')
    write_synthetic_retrieval(path)


def run_config(name: str, seed: int, data: str, work_dir: str, epochs: Optional[int]) -> Config:
    """The demo config with head ``name``'s backbone and head, on ``data``."""
    cfg = Config.fromfile(DEMO)
    _, backbone, head = HEADS[name]
    if backbone is not None:
        cfg.model.backbone = copy.deepcopy(backbone)
    cfg.model.head = copy.deepcopy(head)
    for loader, ann in (('train_dataloader', 'train.json'), ('test_dataloader', 'test.json')):
        cfg[loader] = copy.deepcopy(cfg[loader])
        cfg[loader].dataset.update(data_root=data, ann_file=ann)
    return measured_run(cfg, seed, osp.join(work_dir, f'{name}_seed{seed}'),
                        f'compare_heads_{name}_seed{seed}', epochs)


def measured_run(cfg: Config, seed: int, work_dir: str, name: str,
                 epochs: Optional[int] = None) -> Config:
    """``cfg`` set up for one measured run: ``epochs`` (None: the config's own; the
    one-epoch warmup kept, the cosine shortened), no validation during training (tested
    once by the test loop afterwards), no checkpoints, quiet logs, ``seed``, its own
    ``work_dir`` and experiment ``name``."""
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
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    return cfg


def train_and_test(cfg: Config) -> Dict[str, float]:
    """Train with the config's schedule, then the retrieval test loop's metrics."""
    from mmengine.runner import Runner

    runner = Runner.from_cfg(cfg)
    runner.train()
    # mean train loss (L_t2v + L_v2t) of the last iterations: 2 ln(batch) = all scores equal
    final_loss = runner.message_hub.get_scalar('train/loss').mean(FINAL_ITERS)
    metrics = runner.test()
    metrics['final_loss'] = float(final_loss)
    metrics['head_params'] = sum(p.numel() for p in runner.model.head.parameters())
    return metrics


def format_table(rows: List[dict], seeds: List[int]) -> str:
    header = (['head', 'head params'] + [f'R@1 seed {s}' for s in seeds] + ['R@1 mean']
              + [f'final loss seed {s}' for s in seeds])
    lines = []
    for row in rows:
        r1 = [row['r1'][s] for s in seeds]
        lines.append([row['label'], f'{row["params"]:,}'] + [f'{v:.1f}' for v in r1]
                     + [f'{sum(r1) / len(r1):.1f}'] + [f'{row["loss"][s]:.2f}' for s in seeds])
    widths = [max(len(x) for x in col) for col in zip(header, *lines)]
    fmt = '| ' + ' | '.join('{:<' + str(w) + '}' for w in widths) + ' |'
    out = [fmt.format(*header), '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    return '\n'.join(out + [fmt.format(*line) for line in lines])


def compare_heads(data: str, seeds: Sequence[int], heads: Sequence[str], work_dir: str,
                  epochs: Optional[int] = None) -> dict:
    """Train and test every head of ``heads`` (keys of :data:`HEADS`) with every seed on the
    synthetic retrieval set in ``data`` (written there when missing), printing a line per
    run. Returns ``dict(rows=[dict(label, r1={seed: t2v R@1}, loss={seed: final train
    loss}, params)], epochs, batch)``."""
    import mmstan  # noqa: F401  (registers the models)

    ensure_data(data)
    rows = {name: dict(label=HEADS[name][0], r1={}, loss={}, params=0) for name in heads}
    runs = [(seed, name) for seed in seeds for name in heads]
    epochs_run = batch = None
    for i, (seed, name) in enumerate(runs, 1):
        cfg = run_config(name, seed, data, work_dir, epochs)
        epochs_run, batch = cfg.train_cfg.max_epochs, cfg.train_dataloader.batch_size
        start = time.time()
        metrics = train_and_test(cfg)
        r1 = metrics['retrieval/t2v/R1']
        rows[name]['r1'][seed] = r1
        rows[name]['loss'][seed] = metrics['final_loss']
        rows[name]['params'] = metrics['head_params']
        print(f'[{i}/{len(runs)}] {HEADS[name][0]}, seed {seed}: t2v R@1 {r1:.1f}, final '
              f'train loss {metrics["final_loss"]:.2f} ({time.time() - start:.0f} s)', flush=True)
    return dict(rows=list(rows.values()), epochs=epochs_run, batch=batch)
