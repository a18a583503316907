"""Test a checkpoint with the runner the config names (mmengine's Runner unless it sets
``runner_type``, e.g. FlexibleRunner for FSDP; same flags as mmaction2's)."""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmstan.utils.cli import add_runner_args, build_runner, require_checkpoint, run_or_explain, runner_config  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file or URL')
    parser.add_argument('--dump', help='dump predictions to this .pkl file')
    add_runner_args(parser)
    args = parser.parse_args(argv)
    if args.dump and not args.dump.endswith(('.pkl', '.pickle')):
        parser.error(f'--dump must name a .pkl file, got {args.dump}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)

    def test():
        cfg = runner_config(args)
        cfg.load_from = require_checkpoint(args.checkpoint)
        if args.dump:
            cfg.test_evaluator = list(cfg.test_evaluator) if isinstance(
                cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
            cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.dump))
        build_runner(cfg).test()

    run_or_explain(test)


if __name__ == '__main__':
    main()
