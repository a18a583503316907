"""Shared plumbing for the command-line tools: config loading, and turning user mistakes
into one ``error:`` line instead of a stack trace.

Only mistakes found while building things from the config are shortened (see
:func:`explain`); everything else is a bug and keeps its full traceback. Set
``MMSTAN_DEBUG=1`` to see the traceback of user mistakes too.
"""
import argparse
import hashlib
import os
import re
import sys
from types import FrameType, TracebackType
from typing import Callable, List, Optional

from mmengine.config import Config

from mmstan import compat
from mmstan.errors import UserError
from mmstan.utils.download import route_checkpoint_urls, via_mmstan
from mmstan.utils.paths import require_file

#: Environment variable that turns every ``error:`` line back into a full traceback.
DEBUG_ENV = 'MMSTAN_DEBUG'

#: This checkout's ``configs/``: a config under it gets ``work_dirs/<its path under configs/>``.
CONFIGS_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            'configs')

_REGISTRY_MISS = re.compile(r'is not in the \S+ registry')
_UNEXPECTED_KEY = re.compile(r"unexpected keyword argument '(\w+)'")
_CALLEE_INIT = re.compile(r'([\w.<>]+)\.__init__\(\) ')
_MISSING_ARG = re.compile(r'missing \d+ required (?:positional|keyword-only) arguments?')
_REGISTRY_HINT = 'check the `type` name in the config (is the module imported via custom_imports?)'
_SIGNATURE_HINT = 'check the keys of that config section against the class signature'

#: mmengine's functions that call a registered class with a config's keys.
_BUILD_FRAMES = (('mmengine/registry/build_functions.py', 'build_from_cfg'),
                 ('mmengine/registry/build_functions.py', 'build_scheduler_from_cfg'))
#: mmengine constructors-by-another-name that a build passes the config's keys through.
_FORWARD_FRAMES = (('mmengine/utils/manager.py', 'get_instance'),
                   ('mmengine/optim/scheduler/param_scheduler.py', 'build_iter_from_epoch'))


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
    route_checkpoint_urls(cfg)  # http(s) load_from / init_cfg: verified download
    if cfg.launcher != 'none':
        compat.cpu_distributed()  # a distributed job on CPU (installs nothing on a GPU host)
    if uses_fsdp(cfg):
        if 'runner_type' not in cfg:  # the plain Runner would ignore `strategy`
            raise UserError(f'{args.config}: strategy FSDPStrategy needs '
                            "runner_type = 'FlexibleRunner' (inherit configs/_base_/strategies/fsdp.py)")
        if cfg.launcher != 'none':  # without a launch build_runner refuses it
            compat.fsdp()  # mmengine 0.10.7's FSDPStrategy fixes (mmstan/compat.py)
    if cfg.get('runner_type') == 'FlexibleRunner':
        require_sized_train_set(cfg, args.config)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    return cfg


def uses_fsdp(cfg: Config) -> bool:
    """Whether ``cfg`` trains / tests through mmengine's ``FSDPStrategy``."""
    strategy = cfg.get('strategy') or {}
    kind = strategy.get('type') if isinstance(strategy, dict) else type(strategy).__name__
    return getattr(kind, '__name__', kind) == 'FSDPStrategy'


def require_sized_train_set(cfg: Config, config: str) -> None:
    """mmengine 0.10.7's ``FlexibleRunner.train()`` calls ``len(train_dataloader)``, which a
    loader over an ``IterableDataset`` (a stream without a length) does not have: say so
    before training starts. mmstan's datasets, the sharded WebVid one included, are
    map-style (indexed) and have a length."""
    from torch.utils.data import IterableDataset

    kind = ((cfg.get('train_dataloader') or {}).get('dataset') or {}).get('type')
    if isinstance(kind, str):
        from mmaction.registry import DATASETS
        kind = DATASETS.get(kind)
    if isinstance(kind, type) and issubclass(kind, IterableDataset):
        raise UserError(f'{config}: train_dataloader.dataset {kind.__name__} is an IterableDataset, '
                        "which runner_type='FlexibleRunner' (FSDP) cannot train on (it needs "
                        'len(train_dataloader)); use a map-style dataset (e.g. ShardedVideoCaptionDataset)')


def shard_loss_scaler(cfg: Config) -> None:
    """FSDPStrategy gives ``use_fsdp=True`` (a ``ShardedGradScaler``, whose inf check spans
    all ranks) only to an optimizer wrapper named ``AmpOptimWrapper``; mmstan's
    ``MixedPrecisionOptimWrapper`` (the schedules' and ``--amp``'s) gets it here."""
    wrapper = cfg.get('optim_wrapper')
    if isinstance(wrapper, dict) and wrapper.get('type') == 'MixedPrecisionOptimWrapper':
        wrapper.setdefault('use_fsdp', True)


def build_runner(cfg: Config):
    """The runner ``cfg`` asks for, as mmaction2's / mmpretrain's tools build it: the plain
    mmengine ``Runner`` by default, ``RUNNERS.build(cfg)`` when the config sets
    ``runner_type`` (``'FlexibleRunner'`` for FSDP, see configs/_base_/strategies/fsdp.py)."""
    if uses_fsdp(cfg):
        if cfg.get('launcher', 'none') == 'none':
            raise UserError(f'{cfg.filename or "the config"}: FSDPStrategy shards the model over '
                            'processes; launch with tools/dist_train.sh / dist_test.sh '
                            '(--launcher pytorch or slurm)')
        shard_loss_scaler(cfg)
    if 'runner_type' not in cfg:
        from mmengine.runner import Runner
        return Runner.from_cfg(cfg)
    from mmaction.registry import RUNNERS
    return RUNNERS.build(cfg)


def default_work_dir(config: str) -> str:
    """The work dir of ``config`` when neither ``--work-dir`` nor the config's own
    ``work_dir`` names one: one per config file, never shared by two files.

    mmaction2 names it after the file alone (``./work_dirs/<stem>``), so
    ``configs/stan/msrvtt.py`` and ``configs/mugstan/msrvtt.py`` would share one and
    ``--resume`` would pick up the other model's checkpoint. Here:

    - a config under this checkout's ``configs/``: ``./work_dirs/<its path under configs/>``
      without ``.py`` (``work_dirs/stan/msrvtt``, ``work_dirs/mugstan/msrvtt``);
    - any other config (your own, another checkout's): ``./work_dirs/<stem>-<hash>``, the
      hash the first 8 hex digits of the SHA-256 of the file's real absolute path, so two
      files of one name in different folders get different work dirs and the same file
      always the same one (``--resume`` finds it again).

    Relative to the current directory, as in mmaction2.
    """
    path = os.path.realpath(config)
    stem = os.path.splitext(os.path.basename(path))[0]
    configs_root = os.path.realpath(CONFIGS_ROOT)
    if path.startswith(configs_root + os.sep):
        relative = os.path.splitext(os.path.relpath(path, configs_root))[0]
        return os.path.join('./work_dirs', *relative.split(os.sep))
    digest = hashlib.sha256(path.encode('utf-8', 'surrogateescape')).hexdigest()[:8]
    return os.path.join('./work_dirs', f'{stem}-{digest}')


def require_checkpoint(path: str, hint: str = 'give a .pth file saved by tools/train.py (or a URL)') -> str:
    """``path`` if it is a local file or a URL (an ``http(s)://`` one gets the ``mmstan:``
    prefix, for a verified download; ``open-mmlab://``, ... are left to mmengine); else a
    one-line :class:`UserError`."""
    return via_mmstan(path) if '://' in path else require_file(path, 'checkpoint', hint)


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file and apply ``--cfg-options`` overrides."""
    require_file(path, 'config file', 'check the config path on the command line')
    try:
        cfg = Config.fromfile(path)
    except FileNotFoundError as err:  # a missing _base_ file (mmengine's check_file_exist)
        raise UserError(f'{err} (a `_base_` of {path}); fix the `_base_` path in the config') from err
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def debug_enabled() -> bool:
    """True when ``MMSTAN_DEBUG`` is set (to anything but empty or ``0``)."""
    return os.environ.get(DEBUG_ENV, '') not in ('', '0')


def _frames(tb: Optional[TracebackType]) -> List[FrameType]:
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _is(frame: FrameType, places) -> bool:
    filename = frame.f_code.co_filename.replace(os.sep, '/')
    return any(filename.endswith(path) and frame.f_code.co_name == name for path, name in places)


def _config_signature_mismatch(err: TypeError) -> Optional[str]:
    """The name of the class being built if ``err`` is that class rejecting the keys of
    its config section, else None.

    Python raises a signature mismatch in the *calling* frame, so the traceback ends
    where the class was called with the config's keys: in mmengine's build function
    itself, or (for a constructor that passes ``**kwargs`` on to ``super().__init__``)
    in that constructor, rejecting a key that came from the config. A TypeError raised
    anywhere else (inside a constructor's own code, a forward pass, ...) is a bug.
    """
    message = str(err)
    unexpected = _UNEXPECTED_KEY.search(message)
    if unexpected is None and not _MISSING_ARG.search(message):
        return None
    frames = _frames(err.__traceback__)
    builds = [i for i, frame in enumerate(frames) if _is(frame, _BUILD_FRAMES)]
    if not builds:
        return None
    build, rest = frames[builds[-1]], frames[builds[-1] + 1:]
    built_cls = build.f_locals.get('obj_cls') or build.f_locals.get('scheduler_cls')
    name = getattr(built_cls, '__name__', '')
    if not rest:
        return name  # the call ``obj_cls(**args)`` itself failed
    if unexpected is None or unexpected.group(1) not in (build.f_locals.get('args') or {}):
        return None  # only a key that came from the config
    inits = [frame for frame in rest if not _is(frame, _FORWARD_FRAMES)]
    if not inits:
        return name
    if any(frame.f_code.co_name != '__init__' for frame in inits):
        return None
    built = {id(frame.f_locals.get('self')) for frame in inits}
    callee = _CALLEE_INIT.match(message)
    if len(built) != 1 or callee is None:
        return None
    # the rejecting constructor is one of the built object's own classes (super().__init__),
    # not another object the constructor body creates
    owner = callee.group(1).rsplit('.', 1)[-1]
    mro = type(inits[-1].f_locals['self']).__mro__
    return name if owner in {cls.__name__ for cls in mro} else None


def _worker_message(message: str) -> str:
    """The original message of a UserError re-raised by a DataLoader worker (torch
    wraps it as ``Caught UserError in DataLoader worker ... Original Traceback ...``)."""
    if 'Original Traceback' not in message:
        return message
    last = [line for line in message.splitlines() if line.strip()][-1]
    return last.split('UserError: ', 1)[-1]


def explain(err: BaseException) -> Optional[str]:
    """The one-line explanation of a user mistake found while building from a config,
    or None for anything else (a bug, which keeps its traceback).

    User mistakes are: a :class:`UserError` (raised on purpose by mmstan code); an
    unknown ``type`` (mmengine's registry ``KeyError``); a config section whose keys do
    not match its class's signature (see :func:`_config_signature_mismatch`).
    """
    if isinstance(err, UserError):
        return _worker_message(str(err))
    message = str(err.args[0]) if err.args else str(err)
    if isinstance(err, KeyError) and _REGISTRY_MISS.search(message):
        frames = _frames(err.__traceback__)
        if frames and '/mmengine/registry/' in frames[-1].f_code.co_filename.replace(os.sep, '/'):
            return f'{message.strip()} ({_REGISTRY_HINT})'
    built = _config_signature_mismatch(err) if isinstance(err, TypeError) else None
    if built is None:
        return None
    if built and not message.startswith(f'{built}.'):
        message = f'building {built}: {message}'  # e.g. a base class's __init__ rejected it
    return f'{message.strip()} ({_SIGNATURE_HINT})'


def run_or_explain(fn: Callable[[], None]) -> None:
    """Run ``fn``; print a user mistake as one ``error:`` line and exit 1 (with
    ``MMSTAN_DEBUG=1``, or for anything else, the exception propagates)."""
    try:
        fn()
    except Exception as err:
        message = None if debug_enabled() else explain(err)
        if message is None:
            raise
        print(f'error: {" ".join(message.split())}', file=sys.stderr)
        sys.exit(1)
