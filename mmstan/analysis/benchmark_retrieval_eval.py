"""Wall time of ``tools/test.py`` for retrieval: this checkout (each test video decoded and
encoded once, each caption once) against a previous git revision's per-pair path, on the
same generated MSVD-shaped set and the same checkpoint: the library of
``tools/analysis/benchmark_retrieval_eval.py``, whose docstring says how the baseline runs.
"""
import os
import os.path as osp
import re
import subprocess
import sys
import time

from mmstan.datasets.synthetic import write_synthetic_retrieval
from mmstan.utils.paths import REPO_ROOT

METRICS = [f'{d}/{m}' for d in ('t2v', 'v2t') for m in ('R1', 'R5', 'R10', 'MdR', 'MnR')]


def save_checkpoint(config: str, path: str) -> None:
    import torch
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmstan  # noqa: F401
    init_default_scope('mmaction')
    cfg = Config.fromfile(config)
    cfg.model.clip.pretrained = None
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(), meta={}), path)


def run_test(checkout: str, config: str, ckpt: str, data: str, work: str, batch: int) -> dict:
    opts = ['model.clip.pretrained=None', f'test_dataloader.dataset.data_root={data}',
            'test_dataloader.dataset.ann_file=test.json', f'test_dataloader.batch_size={batch}',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    cmd = [sys.executable, osp.join(checkout, 'tools', 'test.py'), osp.join(checkout, config), ckpt,
           '--work-dir', work, '--cfg-options', *opts]
    env = dict(os.environ, PYTHONPATH=checkout)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f'{checkout}: tools/test.py failed:\n{log[-3000:]}')
    metrics = {k: float(re.findall(r'retrieval/' + re.escape(k) + r': ([0-9.]+)', log)[-1])
               for k in METRICS}
    iters = re.findall(r'Epoch\(test\)\s*\[(\d+)/(\d+)\]', log)
    return dict(seconds=seconds, metrics=metrics, iterations=int(iters[-1][1]) if iters else None)


def benchmark_retrieval_eval(config: str, baseline: str, work: str, num_test: int = 30,
                             captions: int = 10, size: int = 224, frames: int = 10,
                             batch: int = 8) -> dict:
    """Write the data (``num_test`` videos x ``captions``) and a random-weight checkpoint of
    ``config`` (relative to the repository) into ``work``, export ``baseline`` there with
    ``git archive``, and run both revisions' ``tools/test.py``. Returns ``{run name:
    dict(seconds, metrics, iterations)}``, the baseline first; prints a line per run."""
    data, ckpt, old = osp.join(work, 'data'), osp.join(work, 'model.pth'), osp.join(work, 'baseline')
    write_synthetic_retrieval(data, num_train=0, num_test=num_test, captions=captions, size=size,
                              frames=frames)
    save_checkpoint(osp.join(REPO_ROOT, config), ckpt)
    os.makedirs(old, exist_ok=True)
    archive = subprocess.run(['git', '-C', REPO_ROOT, 'archive', baseline], capture_output=True,
                             check=True)
    subprocess.run(['tar', '-x', '-C', old], input=archive.stdout, check=True)
    print(f'{num_test} videos x {captions} captions ({size} px, {frames} frames), '
          f'{config}, random weights; work dir {work}')
    runs = {}
    for name, checkout in ((f'per-pair ({baseline})', old), ('encode once (this checkout)', REPO_ROOT)):
        runs[name] = run_test(checkout, config, ckpt, data, osp.join(work, name.split()[0]), batch)
        r = runs[name]
        print(f'{name:32s} {r["seconds"]:8.1f} s  {r["iterations"]} test iterations')
    return runs
