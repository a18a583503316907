"""Shared plumbing for ``tools/train.py`` and ``tools/test.py``: config loading and
turning user mistakes into one ``error:`` line instead of a stack trace."""
import argparse
import os
import re
import sys
from typing import Callable, Optional

from mmengine.config import Config

from mmstan.errors import UserError

#: Messages of exceptions that are user mistakes, not bugs, and the hint to print.
_USER_MISTAKES = (
    (KeyError, re.compile(r'is not in the .* registry'),
     'check the `type` name in the config (is the module imported via custom_imports?)'),
    (TypeError, re.compile(r'unexpected keyword argument|missing \d+ required'),
     'check the keys of that config section against the class signature'),
    (FileNotFoundError, re.compile(r'.'), 'check the path in the config or on the command line'),
)


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """The arguments tools/train.py and tools/test.py share (as in mmaction2)."""
    from mmengine.config import DictAction

    parser.add_argument('--work-dir', help='where logs, checkpoints and metrics go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def runner_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` with overrides, launcher and work dir applied."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or os.path.join(
        './work_dirs', os.path.splitext(os.path.basename(args.config))[0])
    return cfg


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file and apply ``--cfg-options`` overrides."""
    if not os.path.isfile(path):
        raise UserError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def explain(err: BaseException) -> Optional[str]:
    """The one-line explanation of a user mistake, or None for anything else (a bug)."""
    if isinstance(err, UserError):
        return str(err)
    for kind, pattern, hint in _USER_MISTAKES:
        if isinstance(err, kind) and pattern.search(str(err)):
            message = str(err.args[0]) if err.args else str(err)
            return f'{message.strip()} ({hint})'
    cause = err.__cause__ or err.__context__
    return explain(cause) if cause is not None else None


def run_or_explain(fn: Callable[[], None]) -> None:
    """Run ``fn``; print user mistakes as one ``error:`` line and exit 1."""
    try:
        fn()
    except Exception as err:
        message = explain(err)
        if message is None:
            raise
        print(f'error: {" ".join(message.split())}', file=sys.stderr)
        sys.exit(1)
