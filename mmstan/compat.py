"""Compatibility fixes for the pinned OpenMMLab stack.

mmstan targets stock mmengine 0.10.7, mmcv 2.1.0, mmdet 3.3.0 and mmaction2 1.2.0
from PyPI on current torch / numpy. Each fix below is one function with a one-line
reason. None of them edits site-packages, and importing mmstan replaces nothing of the
host (tests/test_host_contract.py): :func:`apply` runs, on ``import mmstan``, only the
fixes that add what is missing (a module the wheel lacks, torch weights-only allow-list
entries); :func:`cpu_distributed` is installed by mmstan's own tools, and only when a
distributed job really runs on CPU; :func:`numpy2_ava_nan` is opt-in.
"""
import contextlib
import os
import pickle
import sys
import types

import numpy as np
import torch

_APPLIED = False


def stub_missing_drn() -> bool:
    """The mmaction2 1.2.0 wheel lacks ``models/localizers/drn/`` yet imports it
    (mmaction2 issue #2714), so ``import mmaction.models`` fails: register stand-in
    modules whose ``DRN`` explains the gap. Returns True if the stub was needed."""
    import mmaction

    pkg = 'mmaction.models.localizers.drn'
    drn_dir = os.path.join(os.path.dirname(mmaction.__file__), 'models', 'localizers', 'drn')
    if os.path.isfile(os.path.join(drn_dir, 'drn.py')) or pkg in sys.modules:
        return False

    class DRN:  # noqa: D401 - placeholder for the missing localizer
        """Placeholder: DRN is missing from the mmaction2 1.2.0 wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError('DRN is not shipped in the mmaction2 1.2.0 wheel '
                              '(mmaction2 issue #2714); install mmaction2 from source to use it')

    package = types.ModuleType(pkg)
    package.__path__ = []  # a package, so `from .drn.drn import DRN` resolves
    module = types.ModuleType(pkg + '.drn')
    module.DRN = DRN
    package.drn = module
    sys.modules[pkg] = package
    sys.modules[pkg + '.drn'] = module
    return True


class _NumpyWithAliases(types.ModuleType):
    """numpy seen through a module that also carries aliases numpy 2 removed."""

    def __init__(self, aliases: dict):
        super().__init__('numpy')
        self.__dict__.update(aliases)

    def __getattr__(self, name: str):
        return getattr(np, name)


def numpy2_ava_nan() -> bool:
    """numpy 2 removed ``np.NAN``, which mmaction2's own AVA evaluation (``ava_eval``)
    returns for a class without ground truth (any small AVA subset hits it): give that
    module, and only that module, a numpy that still has it. Opt-in (mmstan's
    ``WorkDirAVAMetric`` does not need it, and importing mmstan leaves mmaction2's module
    as it is): call it to run mmaction2's ``AVAMetric`` under numpy 2. Returns True if the
    alias was needed."""
    if hasattr(np, 'NAN'):
        return False
    from mmaction.evaluation.functional.ava_evaluation import metrics

    if not isinstance(metrics.np, _NumpyWithAliases):
        metrics.np = _NumpyWithAliases({'NAN': np.nan})
    return True


#: What an mmengine 0.10.7 Runner checkpoint pickles besides tensors and containers:
#: the message hub's HistoryBuffers holding numpy arrays and scalars.
def _mmengine_checkpoint_globals() -> list:
    """HistoryBuffer and the numpy types it pickles; no callables."""
    from mmengine.logging.history_buffer import HistoryBuffer

    numpy_core = np._core if hasattr(np, '_core') else np.core
    found = [HistoryBuffer, np.ndarray, np.dtype, numpy_core.multiarray._reconstruct,
             numpy_core.multiarray.scalar]
    # numpy >= 1.25 pickles dtypes by their concrete class (Float64DType, ...).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType')]
    return found


#: What mmengine 0.10.7's ``HistoryBuffer.__getstate__`` pickles besides data: its
#: default statistics methods, written as ``getattr(HistoryBuffer, name)``.
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _checkpoint_getattr(owner, name: str):
    """``builtins.getattr`` as mmengine checkpoints use it, and nothing more: a
    HistoryBuffer statistics method (or anything, if ``getattr`` itself is allow-listed)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    if (owner is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS) or \
            getattr in torch.serialization.get_safe_globals():
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'weights-only load: getattr({owner!r}, {name!r}) is not allowed (mmstan allows getattr '
        f'only for HistoryBuffer.{"/".join(_HISTORY_BUFFER_STATISTICS)} in mmengine checkpoints)')


def safe_checkpoint_globals() -> bool:
    """torch >= 2.6 loads with ``weights_only=True``, which rejects mmengine 0.10.7's
    checkpoints (resume, ``load_from``): allow-list exactly the data-only types they
    contain, and ``getattr`` only for the HistoryBuffer methods they pickle, instead of
    switching weights-only loading off. Checkpoints are written as mmengine writes them.
    Returns True if applied."""
    serialization = torch.serialization
    if not hasattr(serialization, 'add_safe_globals'):
        return False
    serialization.add_safe_globals(_mmengine_checkpoint_globals()
                                   + [(_checkpoint_getattr, 'builtins.getattr')])
    return True


@contextlib.contextmanager
def _without_cuda_set_device():
    """``torch.cuda.set_device`` as a no-op, for the duration of the block."""
    set_device = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = set_device


def cpu_distributed() -> bool:
    """mmengine 0.10.7's torchrun init calls ``torch.cuda.set_device`` (and DDP gets
    ``device_ids``), fatal when training runs on CPU: there, and only there, init without
    that call (gloo for nccl, ``init_backend`` passed through) and wrap CPU models without
    device ids. mmstan's tools install it (:func:`mmstan.utils.cli.runner_config`) for a
    distributed job; it installs nothing when mmengine's device is not the CPU (CUDA, NPU,
    MLU, MPS, MUSA keep mmengine's code). Returns True if installed."""
    from mmengine.device import get_device
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import distributed as ddp_module

    if get_device() != 'cpu':
        return False
    if getattr(dist_utils._init_dist_pytorch, '_mmstan', False):
        return True
    original_init = dist_utils._init_dist_pytorch

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
        with _without_cuda_set_device():  # mmengine's CUDA branch minus its one CUDA call
            return original_init('gloo' if backend == 'nccl' else backend,
                                 init_backend=init_backend, **kwargs)

    _init_dist_pytorch._mmstan = True
    dist_utils._init_dist_pytorch = _init_dist_pytorch

    ddp_cls = ddp_module.MMDistributedDataParallel
    original_ddp_init = ddp_cls.__init__

    def __init__(self, module, detect_anomalous_params=False, **kwargs):
        params = list(module.parameters())
        if params and all(p.device.type == 'cpu' for p in params):
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        original_ddp_init(self, module, detect_anomalous_params=detect_anomalous_params,
                          **kwargs)

    ddp_cls.__init__ = __init__
    return True


def apply() -> None:
    """Apply the import-time fixes once (idempotent): the drn stub and the allow-list."""
    global _APPLIED
    if _APPLIED:
        return
    stub_missing_drn()
    safe_checkpoint_globals()
    import mmaction.models  # noqa: F401  (needs the drn stub; registers AVA heads into mmdet)

    _APPLIED = True
