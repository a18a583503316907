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
import warnings

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


def _fsdp_strategy():
    from mmengine._strategy import FSDPStrategy
    return FSDPStrategy


def _patch_once(owner, name: str, make) -> bool:
    """Replace ``owner.name`` by ``make(original)`` unless this fix (``make``'s qualified
    name) already did, also below another fix's wrapper; returns True."""
    tag, method = make.__qualname__, getattr(owner, name)
    while method is not None:
        if getattr(method, '_mmstan', None) == tag:
            return True
        method = getattr(method, '_mmstan_original', None)
    original = getattr(owner, name)
    patched = make(original)
    patched._mmstan, patched._mmstan_original = tag, original
    setattr(owner, name, patched)
    return True


def fsdp_optim_state_dict_to_load() -> bool:
    """mmengine 0.10.7's ``FSDPStrategy.load_optim_state_dict`` passes
    ``(optim_state_dict, model, optim)``, torch < 2.1's order; torch >= 2.1 takes
    ``(model, optim, optim_state_dict)``, so ``--resume`` fails: pass them by name.
    Installed by mmstan's tools for an FSDP config. Returns True if installed."""
    import inspect

    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    if list(inspect.signature(FSDP.optim_state_dict_to_load).parameters)[:3] != [
            'model', 'optim', 'optim_state_dict']:
        return False

    def make(original):
        def load_optim_state_dict(self, state_dict: dict) -> None:
            optimizer = self.optim_wrapper.optimizer
            self.optim_wrapper.load_state_dict(FSDP.optim_state_dict_to_load(
                model=self.model, optim=optimizer, optim_state_dict=state_dict))
        return load_optim_state_dict

    return _patch_once(_fsdp_strategy(), 'load_optim_state_dict', make)


def fsdp_base_param_settings() -> bool:
    """mmengine 0.10.7's ``FSDPStrategy`` saves the optimizer through
    ``FSDP.optim_state_dict``, which drops the optimizer wrapper's ``base_param_settings``
    (mmengine's logged ``base_lr`` of a multi-group optimizer), so a resumed run logs another
    base lr than a straight one: save it with the optimizer state and load it back.
    Returns True if installed."""
    strategy = _fsdp_strategy()

    def save(original):
        def optim_state_dict(self) -> dict:
            state = original(self)
            settings = getattr(self.optim_wrapper, 'base_param_settings', None)
            if settings is not None:
                state['base_param_settings'] = settings
            return state
        return optim_state_dict

    def load(original):
        def load_optim_state_dict(self, state_dict: dict) -> None:
            settings = state_dict.pop('base_param_settings', None)
            original(self, state_dict)
            if settings is not None:
                self.optim_wrapper.base_param_settings = settings
        return load_optim_state_dict

    return _patch_once(strategy, 'optim_state_dict', save) and \
        _patch_once(strategy, 'load_optim_state_dict', load)


def fsdp_cpu_device_id() -> bool:
    """mmengine 0.10.7's ``FSDPStrategy._wrap_model`` gives FSDP ``device_id=LOCAL_RANK``,
    which means ``cuda:LOCAL_RANK``: on a CPU host, wrap on the CPU. Installs nothing
    when mmengine's device is not the CPU. Returns True if installed."""
    from mmengine.device import get_device

    if get_device() != 'cpu':
        return False

    def make(original):
        def _wrap_model(self, model):
            wrapper = dict(self.model_wrapper or dict(type='MMFullyShardedDataParallel'))
            wrapper.setdefault('device_id', torch.device('cpu'))  # the config's keys win
            self.model_wrapper = wrapper
            return original(self, model)
        return _wrap_model

    return _patch_once(_fsdp_strategy(), '_wrap_model', make)


def fsdp_clip_grad_norm() -> bool:
    """mmengine 0.10.7's optimizer wrapper clips with ``torch.nn.utils.clip_grad_norm_``,
    which under FSDP sees only this rank's shards (a per-rank norm, different clipping on
    each rank): clip a norm ``clip_grad`` with the FSDP root's ``clip_grad_norm_``, the
    norm of the whole model, on every rank. Returns True if installed."""
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    def make(original):
        def build_optim_wrapper(self, optim_wrapper, model=None):
            built = original(self, optim_wrapper, model)
            model = model if model is not None else self.model
            wrappers = getattr(built, 'optim_wrappers', {'': built})  # an OptimWrapperDict
            for wrapper in wrappers.values():
                kwargs = getattr(wrapper, 'clip_grad_kwargs', None)
                if kwargs and wrapper.clip_func is torch.nn.utils.clip_grad_norm_ and \
                        isinstance(model, FSDP):
                    wrapper._clip_grad = _fsdp_clip_grad(wrapper, model)
            return built
        return build_optim_wrapper

    return _patch_once(_fsdp_strategy(), 'build_optim_wrapper', make)


def _fsdp_clip_grad(wrapper, model):
    """``wrapper._clip_grad`` for the FSDP root ``model`` (a collective: every rank calls
    it, also one whose shards hold no gradient); logs the pre-clip norm as mmengine does."""
    def _clip_grad() -> None:
        norm = model.clip_grad_norm_(wrapper.clip_grad_kwargs['max_norm'],
                                     wrapper.clip_grad_kwargs.get('norm_type', 2.0))
        wrapper.message_hub.update_scalar(f'train/{wrapper.grad_name}', float(norm))
    return _clip_grad


def fsdp_full_state_dict_on_cpu() -> bool:
    """mmengine 0.10.7's ``state_dict_cfg='full'`` gathers with ``offload_to_cpu=True``;
    on a CPU run FSDP's "offload" ``value.cpu()`` is not a copy (without the offload FSDP
    clones), the saved optimizer state comes out wrong and ``--resume`` then differs from
    a straight run: on the CPU gather without the offload. Installs nothing off the CPU.
    Returns True if installed."""
    from mmengine.device import get_device

    if get_device() != 'cpu':
        return False

    def make(original):
        def _init_state_dict_cfg(self, state_dict_cfg):
            original(self, state_dict_cfg)
            for config in (self.state_dict_config, self.optim_state_dict_config):
                if getattr(config, 'offload_to_cpu', False):
                    config.offload_to_cpu = False
        return _init_state_dict_cfg

    return _patch_once(_fsdp_strategy(), '_init_state_dict_cfg', make)


#: The fixes mmstan's tools install for a config whose ``strategy`` is FSDPStrategy.
FSDP_FIXES = (fsdp_optim_state_dict_to_load, fsdp_base_param_settings, fsdp_cpu_device_id,
              fsdp_clip_grad_norm, fsdp_full_state_dict_on_cpu)


def fsdp() -> dict:
    """Install :data:`FSDP_FIXES`; returns ``{name: installed}``."""
    return {fix.__name__: fix() for fix in FSDP_FIXES}


#: What timm >= 0.9 warns when mmaction2 1.2.0's VindLU imports ``timm.models.layers``.
TIMM_LAYERS_MESSAGE = 'Importing from timm.models.layers is deprecated'


@contextlib.contextmanager
def quiet_vindlu_timm_import():
    """With transformers installed (the ``chat`` extra), ``import mmaction.models`` imports
    VindLU, whose deprecated ``timm.models.layers`` import prints a FutureWarning on every
    command that is about no code of the user's: silence that one message while mmstan
    imports mmaction's models. The host's warning filters are restored on exit."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message=TIMM_LAYERS_MESSAGE, category=FutureWarning)
        yield


def apply() -> None:
    """Apply the import-time fixes once (idempotent): the drn stub and the allow-list."""
    global _APPLIED
    if _APPLIED:
        return
    stub_missing_drn()
    safe_checkpoint_globals()
    with quiet_vindlu_timm_import():
        import mmaction.models  # noqa: F401  (needs the drn stub; registers AVA heads into mmdet)

    _APPLIED = True
