"""Compatibility fixes for the pinned OpenMMLab stack.

mmstan targets stock mmengine 0.10.7, mmcv 2.1.0, mmdet 3.3.0 and mmaction2 1.2.0
from PyPI on current torch / numpy. Each fix below is one function with a one-line
reason; :func:`apply` runs them all once, when ``mmstan`` is imported, before any
mmaction2 model module is imported. None of them edits site-packages.
"""
import os
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
    """numpy 2 removed ``np.NAN``, which mmaction2's AVA evaluation returns for a class
    without ground truth (any small AVA subset hits it): give that module, and only
    that module, a numpy that still has it. Returns True if the alias was needed."""
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


def _history_buffer_getstate(self) -> dict:
    # mmengine's own __getstate__ adds the class-level statistics methods (functions,
    # pickled through builtins.getattr); they are re-registered on import anyway.
    return {k: v for k, v in self.__dict__.items() if k != 'statistics_methods'}


def safe_checkpoint_globals() -> bool:
    """torch >= 2.6 loads with ``weights_only=True``, which rejects mmengine 0.10.7's
    checkpoints (resume, ``load_from``): allow-list exactly the data-only types they
    contain instead of switching weights-only loading off, and stop HistoryBuffer from
    pickling functions (which would need ``getattr`` allow-listed). Returns True if applied."""
    from mmengine.logging.history_buffer import HistoryBuffer

    serialization = torch.serialization
    if not hasattr(serialization, 'add_safe_globals'):
        return False
    serialization.add_safe_globals(_mmengine_checkpoint_globals())
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    return True


def cpu_distributed() -> bool:
    """mmengine 0.10.7 calls ``torch.cuda.set_device`` when initialising a torchrun
    job and hands DDP ``device_ids``, both of which fail without CUDA: on a machine
    without CUDA, initialise with gloo and wrap CPU models without device ids."""
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import distributed as ddp_module

    if getattr(dist_utils._init_dist_pytorch, '_mmstan', False):
        return True
    original_init = dist_utils._init_dist_pytorch

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
        if torch.cuda.is_available():
            return original_init(backend, init_backend=init_backend, **kwargs)
        torch.distributed.init_process_group(backend='gloo', **kwargs)

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
    """Apply every fix once (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    stub_missing_drn()
    safe_checkpoint_globals()
    cpu_distributed()
    import mmaction.models  # noqa: F401  (needs the drn stub; registers AVA heads into mmdet)

    numpy2_ava_nan()
    _APPLIED = True
