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
test-dataloader iterations each made. The runs are
:func:`mmstan.analysis.benchmark_retrieval_eval.benchmark_retrieval_eval`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import tempfile  # noqa: E402

from mmstan.analysis.benchmark_retrieval_eval import METRICS, benchmark_retrieval_eval  # noqa: E402


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
    runs = benchmark_retrieval_eval(args.config, args.baseline, work, args.num_test, args.captions,
                                    args.size, args.frames, args.batch)
    (old_name, old_run), (new_name, new_run) = runs.items()
    print(f'ratio per-pair / encode-once wall time: {old_run["seconds"] / new_run["seconds"]:.2f}x')
    print(f'{"metric":10s} {"per-pair":>10s} {"encode-once":>12s}')
    for k in METRICS:
        mark = '' if old_run['metrics'][k] == new_run['metrics'][k] else '  (differs)'
        print(f'{k:10s} {old_run["metrics"][k]:10.4f} {new_run["metrics"][k]:12.4f}{mark}')
    return runs


if __name__ == '__main__':
    main()
