"""float32 islands under mixed precision (``mmstan.engine.amp``).

Autocast runs matmuls in bf16 / fp16. Where a few elements decide the result (a softmax
at temperature 100, Mug's statistics, a cosine that becomes an InfoNCE logit, a
classifier's logits) mmstan computes in float32 whatever the autocast dtype, with
autocast off and half-precision inputs upcast::

    with float32_region(x):
        y = head(upcast(x))

These regions are small (``[B, B]`` score matrices, ``[B, C]`` logits), so they cost
nothing next to the towers, which stay in the autocast dtype.
"""
import torch
from torch import Tensor

HALF = (torch.float16, torch.bfloat16)


def upcast(x: Tensor) -> Tensor:
    """``x`` in float32 when it is float16 / bfloat16, else ``x`` itself (float64 and
    integer tensors are left as they are)."""
    return x.float() if x.dtype in HALF else x


def float32_region(x: Tensor) -> torch.autocast:
    """A context with autocast off on ``x``'s device type (ops inside run in their
    inputs' dtype: float32 after :func:`upcast`)."""
    return torch.autocast(x.device.type, enabled=False)
