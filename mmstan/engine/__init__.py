from .amp import MixedPrecisionOptimWrapper, amp_optim_wrapper, resolve_amp_dtype
from .fsdp_wrap_policy import mmstan_wrap_policy
from .resumable_loop import ResumableEpochBasedTrainLoop
from .resumable_sampler import ResumableSampler
from .retrieval_loop import VideoTextRetrievalTestLoop, VideoTextRetrievalValLoop

__all__ = ['MixedPrecisionOptimWrapper', 'amp_optim_wrapper', 'resolve_amp_dtype',
           'ResumableEpochBasedTrainLoop', 'ResumableSampler',
           'VideoTextRetrievalTestLoop', 'VideoTextRetrievalValLoop', 'mmstan_wrap_policy']
