"""Cost analysis of the models (FLOPs, timings) and of the repository's configs and model
zoo: the library of ``tools/analysis/*.py`` and ``tools/model_zoo.py``. The submodules
other than :mod:`.complexity` are imported on use."""
from .complexity import build_video_model, count_flops, get_flops, video_input_shape

__all__ = ['build_video_model', 'count_flops', 'get_flops', 'video_input_shape']
