"""Test a checkpoint with the standard mmengine Runner (same flags as mmaction2's)."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from mmengine.config import DictAction  # noqa: E402

from mmstan.utils.cli import load_config, run_or_explain  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file or URL')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument('--dump', help='dump predictions to this .pkl file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. test_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> None:
    args = parse_args(argv)

    def test():
        from mmengine.runner import Runner
        cfg = load_config(args.config, args.cfg_options)
        cfg.launcher = args.launcher
        cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
            './work_dirs', osp.splitext(osp.basename(args.config))[0])
        cfg.load_from = args.checkpoint
        if args.dump:
            assert args.dump.endswith(('.pkl', '.pickle')), '--dump must end with .pkl'
            cfg.test_evaluator = list(cfg.test_evaluator) if isinstance(
                cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
            cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.dump))
        Runner.from_cfg(cfg).test()

    run_or_explain(test)


if __name__ == '__main__':
    main()
