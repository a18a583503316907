"""Wall time of ``tools/test.py`` for retrieval: this checkout (each test video decoded and
encoded once, each caption once) against a previous git revision's per-pair path, side by
side in one run, on the same generated MSVD-shaped set and the same checkpoint.

    python tools/analysis/benchmark_retrieval_eval.py   # 30 videos x 10 captions, mugstan/msvd.py
    python tools/analysis/benchmark_retrieval_eval.py --config configs/demo/synthetic_motion_retrieval.py \\
        --size 32 --frames 8

The per-pair path is not kept in this checkout (it scored with a copy of the head built by
the metric); ``--baseline`` (default ``0f61153``, the last commit before the encode-once
loops) is exported with ``git archive`` into a temporary folder and its own
``tools/test.py`` and config run there, with the same Python environment. At that
revision ``VideoCaptionDataset`` makes one test sample per (video, caption) pair, so
every video is decoded and encoded once per caption.

The model is the config's architecture with random weights (``clip.pretrained=None``,
one checkpoint saved here and loaded by both runs), so both runs score the same model;
their metrics are printed side by side (MdR may differ: the baseline took torch's lower
median, this checkout the usual median). Printed: wall time of each run (process start
to exit, data loading and model building included), their ratio, and the number of
test-dataloader iterations each made.
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
METRICS = [f'{d}/{m}' for d in ('t2v', 'v2t') for m in ('R1', 'R5', 'R10', 'MdR', 'MnR')]


def make_data(out: str, num_test: int, captions: int, size: int, frames: int) -> None:
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    from make_synthetic_retrieval import main
    main(['--out', out, '--num-train', '0', '--num-test', str(num_test), '--captions', str(captions),
          '--size', str(size), '--frames', str(frames)])


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


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default='configs/mugstan/msvd.py',
                        help='retrieval config, relative to the repository (exists in both revisions)')
    parser.add_argument('--baseline', default='0f61153', help='git revision with the per-pair path')
    parser.add_argument('--num-test', type=int, default=30)
    parser.add_argument('--captions', type=int, default=10, help='captions per video')
    parser.add_argument('--size', type=int, default=224, help='frame size of the generated videos')
    parser.add_argument('--frames', type=int, default=10,
                        help='frames per generated video (the config samples its own count from them)')
    parser.add_argument('--batch', type=int, default=8, help='test batch size (both runs)')
    parser.add_argument('--work-dir', help='keep data, checkpoint and logs here (default: a temp dir)')
    args = parser.parse_args(argv)
    work = args.work_dir or tempfile.mkdtemp(prefix='retrieval_eval_')
    data, ckpt, old = osp.join(work, 'data'), osp.join(work, 'model.pth'), osp.join(work, 'baseline')
    make_data(data, args.num_test, args.captions, args.size, args.frames)
    save_checkpoint(osp.join(ROOT, args.config), ckpt)
    os.makedirs(old, exist_ok=True)
    archive = subprocess.run(['git', '-C', ROOT, 'archive', args.baseline], capture_output=True, check=True)
    subprocess.run(['tar', '-x', '-C', old], input=archive.stdout, check=True)
    print(f'{args.num_test} videos x {args.captions} captions ({args.size} px, {args.frames} frames), '
          f'{args.config}, random weights; work dir {work}')
    runs = {}
    for name, checkout in ((f'per-pair ({args.baseline})', old), ('encode once (this checkout)', ROOT)):
        runs[name] = run_test(checkout, args.config, ckpt, data, osp.join(work, name.split()[0]),
                              args.batch)
        r = runs[name]
        print(f'{name:32s} {r["seconds"]:8.1f} s  {r["iterations"]} test iterations')
    (old_name, old_run), (new_name, new_run) = runs.items()
    print(f'ratio per-pair / encode-once wall time: {old_run["seconds"] / new_run["seconds"]:.2f}x')
    print(f'{"metric":10s} {"per-pair":>10s} {"encode-once":>12s}')
    for k in METRICS:
        mark = '' if old_run['metrics'][k] == new_run['metrics'][k] else '  (differs)'
        print(f'{k:10s} {old_run["metrics"][k]:10.4f} {new_run["metrics"][k]:12.4f}{mark}')
    return runs


if __name__ == '__main__':
    main()
