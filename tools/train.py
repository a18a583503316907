"""Train a model with the runner the config names (mmengine's Runner unless it sets
``runner_type``, e.g. FlexibleRunner for FSDP; same flags as mmaction2's)."""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmstan.utils.cli import add_runner_args, build_runner, require_checkpoint, run_or_explain, runner_config  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a recognizer / retriever')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the latest checkpoint in the work dir, or from '
                        'the given checkpoint')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision training: bf16 without a loss scaler where the '
                        'device has bf16 (CUDA compute capability 8.0+, CPU), else fp16 with a '
                        'dynamic loss scale')
    parser.add_argument('--amp-dtype', choices=['bf16', 'fp16'],
                        help='mixed precision in this dtype (implies --amp)')
    parser.add_argument('--no-validate', action='store_true', help='skip validation')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale lr by the actual / base batch size')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--diff-rank-seed', action='store_true',
                        help='different seed on each rank')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic cudnn')
    add_runner_args(parser)
    return parser.parse_args(argv)


def build_cfg(args: argparse.Namespace):
    cfg = runner_config(args)
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp or args.amp_dtype:
        from mmstan.engine.amp import amp_optim_wrapper
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper, args.amp_dtype)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, require_checkpoint(
            args.resume, 'give a .pth file saved by tools/train.py, or pass --resume alone to '
            'resume from the latest checkpoint in the work dir')
    elif cfg.get('load_from'):
        require_checkpoint(cfg.load_from, 'fix `load_from` in the config')
    if args.auto_scale_lr:
        cfg.auto_scale_lr = dict(cfg.get('auto_scale_lr', {}), enable=True)
    randomness = dict(cfg.get('randomness') or dict(seed=None))
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.deterministic:
        randomness['deterministic'] = True
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    cfg.randomness = randomness
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)

    def train():
        build_runner(build_cfg(args)).train()
        _end_distributed()

    run_or_explain(train)


def _end_distributed() -> None:
    """Close the process group before exit: a gloo group left to interpreter teardown
    can abort a rank ('terminate called without an active exception')."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
