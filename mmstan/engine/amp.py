"""Mixed precision: bf16 where the device has it, fp16 with a dynamic loss scale elsewhere.

CLIP video models are trained in bf16 (InternVideo2, open_clip, UMT): bf16 has float32's
exponent range, so gradients neither underflow nor overflow and no loss scaler is needed;
fp16 needs one. The rule (:func:`resolve_amp_dtype`, ``dtype='auto'``):

- CUDA with native bf16 (compute capability 8.0+: A100, H100, L40S, RTX 30/40 ...):
  bf16, no loss scaler;
- CPU: bf16 (CPU autocast is bf16 only), no loss scaler;
- any other device (a CUDA GPU without native bf16, e.g. V100 or T4; NPU, MLU):
  fp16 with mmengine's dynamic loss scale.

:class:`MixedPrecisionOptimWrapper` applies it when it is built, on the machine that
trains. It *is* mmengine's ``AmpOptimWrapper`` (a subclass: its autocast context, its
backward / step / state dict), with two differences: ``dtype='auto'`` and
``loss_scale='auto'`` resolve by the rule above, and it also builds on a CPU-only
machine (mmengine's asserts a GPU). The recognition and retrieval recipes name it
(``configs/_base_/schedules/``), and ``tools/train.py --amp`` / ``--amp-dtype`` switch a
config's optimizer wrapper to it (:func:`amp_optim_wrapper`).

What runs in float32 under autocast whatever the dtype: every similarity head's scoring
(the retriever runs it with autocast off on float32 features: Mug's statistics, the
softmaxes of Mug, WTI and TAB, the cosines), the InfoNCE logits
(:func:`mmstan.models.losses.symmetric_infonce`), the recognition heads' logits
(``VideoLinearHead``, ``TextClassHead``). The towers (CLIP, STAN, the heads' temporal
transformers) run in the autocast dtype.
"""
from typing import Optional, Union

import torch
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmstan.errors import UserError

#: Names accepted for the two half-precision dtypes (``--amp-dtype``, the config's
#: ``optim_wrapper.dtype``) -> torch's name.
DTYPE_NAMES = {'bf16': 'bfloat16', 'bfloat16': 'bfloat16', 'fp16': 'float16', 'float16': 'float16'}


def amp_device() -> str:
    """The device type training runs on (mmengine's choice: ``cuda``, ``cpu``, ``npu`` ...)."""
    from mmengine.device import get_device
    return get_device()


def cuda_has_bf16() -> bool:
    """True when the current CUDA device computes bf16 natively (compute capability
    8.0+). torch's plain ``is_bf16_supported()`` also says yes to emulated bf16 (V100,
    T4), which runs far slower than fp16 there."""
    if not torch.cuda.is_available():
        return False
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # a torch without the argument
        return torch.cuda.is_bf16_supported()


def resolve_amp_dtype(dtype: Union[str, torch.dtype, None] = 'auto',
                      device: Optional[str] = None) -> str:
    """``'bfloat16'`` or ``'float16'``: ``dtype`` (``'auto'``/None, ``'bf16'``,
    ``'fp16'``, their torch names or torch dtypes) on ``device`` (None: the training
    device). ``'auto'``: bf16 on CUDA with native bf16 and on the CPU, else fp16. A dtype
    the device cannot autocast to is a :class:`UserError`."""
    device = device or amp_device()
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).replace('torch.', '')
    if dtype in (None, 'auto'):
        if device == 'cpu' or (device == 'cuda' and cuda_has_bf16()):
            return 'bfloat16'
        return 'float16'
    if dtype not in DTYPE_NAMES:
        raise UserError(f'mixed precision dtype must be auto, bf16 or fp16, got {dtype!r}')
    name = DTYPE_NAMES[dtype]
    if name == 'float16' and device == 'cpu':
        raise UserError('fp16 mixed precision needs a GPU (CPU autocast is bf16 only): use '
                        '--amp or --amp-dtype bf16 on this machine')
    if name == 'bfloat16' and device == 'cuda' and not cuda_has_bf16():
        raise UserError(f'{torch.cuda.get_device_name()} has no native bf16 (compute '
                        'capability 8.0+ has): use --amp (fp16 here) or --amp-dtype fp16')
    return name


def _grad_scaler(device: str, loss_scale, use_fsdp: bool):
    """mmengine's loss-scaler choices (``'dynamic'``, a float: static, a dict: GradScaler
    arguments) for ``device``; ``None`` or ``dict(enabled=False)``: none."""
    if loss_scale is None:
        loss_scale = dict(enabled=False)
    if use_fsdp:
        from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler

        def make(**kwargs):
            return ShardedGradScaler(device=device, **kwargs)
    else:
        def make(**kwargs):
            return torch.amp.GradScaler(device, **kwargs)
    if loss_scale == 'dynamic':
        return make()
    if isinstance(loss_scale, float):
        return make(init_scale=loss_scale)
    if isinstance(loss_scale, dict):
        return make(**loss_scale)
    raise TypeError(f"loss_scale must be 'auto', 'dynamic', a float, a dict or None, got {loss_scale!r}")


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` with the dtype chosen for the device (see the module
    docstring), and on the CPU too.

    Args:
        dtype: ``'auto'`` (default: bf16 where the device has it, else fp16), ``'bf16'`` /
            ``'bfloat16'`` or ``'fp16'`` / ``'float16'``.
        loss_scale: ``'auto'`` (default: none for bf16, ``'dynamic'`` for fp16), or what
            ``AmpOptimWrapper`` takes (``'dynamic'``, a float, a ``GradScaler`` dict);
            None: no loss scaler.
        use_fsdp: ``ShardedGradScaler`` (as ``AmpOptimWrapper``).
        **kwargs: ``OptimWrapper``'s (optimizer, accumulative_counts, clip_grad).
    """

    def __init__(self, dtype: Union[str, torch.dtype, None] = 'auto', loss_scale='auto',
                 use_fsdp: bool = False, **kwargs):
        device = amp_device()
        name = resolve_amp_dtype(dtype, device)
        if loss_scale == 'auto':
            loss_scale = 'dynamic' if name == 'float16' else None
        # AmpOptimWrapper.__init__ asserts a GPU; the rest of it is these three attributes
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = loss_scale if isinstance(loss_scale, float) else None
        self.loss_scaler = _grad_scaler(device, loss_scale, use_fsdp)
        self.cast_dtype = getattr(torch, name)
        print_log(f'mixed precision: {name} autocast on {device}, '
                  f'{"dynamic loss scale" if self.loss_scaler.is_enabled() else "no loss scaler"}',
                  logger='current')

    def load_state_dict(self, state_dict: dict) -> None:
        """As ``AmpOptimWrapper``; a checkpoint of a run without a loss scaler (bf16)
        resumed with one (fp16), or the other way round, keeps this run's scaler."""
        saved = state_dict.get('loss_scaler')
        if saved is not None and bool(saved) != self.loss_scaler.is_enabled():
            state_dict = dict(state_dict)
            del state_dict['loss_scaler']
            print_log('mixed precision: the checkpoint\'s loss scaler state does not fit this '
                      'run\'s dtype; starting the scaler afresh', logger='current')
        super().load_state_dict(state_dict)


def amp_optim_wrapper(optim_wrapper: dict, dtype: Optional[str] = None) -> dict:
    """``tools/train.py --amp`` / ``--amp-dtype``: the config's optimizer wrapper as a
    :class:`MixedPrecisionOptimWrapper` with ``dtype`` (``'bf16'``, ``'fp16'``; None:
    ``'auto'``). A ``loss_scale`` the config sets is kept; else the rule picks it."""
    out = dict(optim_wrapper)
    out['type'] = 'MixedPrecisionOptimWrapper'
    out['dtype'] = DTYPE_NAMES[dtype] if dtype else 'auto'
    return out
