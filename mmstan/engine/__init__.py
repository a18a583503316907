from .amp import MixedPrecisionOptimWrapper, amp_optim_wrapper, resolve_amp_dtype
from .fsdp_wrap_policy import mmstan_wrap_policy
from .retrieval_loop import VideoTextRetrievalTestLoop, VideoTextRetrievalValLoop

__all__ = ['MixedPrecisionOptimWrapper', 'amp_optim_wrapper', 'resolve_amp_dtype',
           'VideoTextRetrievalTestLoop', 'VideoTextRetrievalValLoop', 'mmstan_wrap_policy']
