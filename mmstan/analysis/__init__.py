from .complexity import build_video_model, count_flops, video_input_shape

__all__ = ['build_video_model', 'count_flops', 'video_input_shape']
