"""Frames of a video file for the chatbot: T frames sampled uniformly (the centre of each
of T equal segments, as mmaction2's test-time ``SampleFrames`` with one clip of T
frames), decoded with decord."""
import os

import torch
from torch import Tensor

from mmstan.errors import UserError


def segment_centres(num_total: int, num_frames: int) -> list:
    """Indices of the centres of ``num_frames`` equal segments of ``num_total`` frames."""
    return [min(int((i + 0.5) * num_total / num_frames), num_total - 1) for i in range(num_frames)]


def read_frames(path: str, num_frames: int) -> Tensor:
    """``[T, 3, H, W]`` uint8 frames of the video file ``path``."""
    if not os.path.isfile(path):
        raise UserError(f'video not found: {path}; give a video file (mp4, avi, webm, ...)')
    import decord
    try:
        reader = decord.VideoReader(path, num_threads=1)
        frames = reader.get_batch(segment_centres(len(reader), num_frames)).asnumpy()
    except (decord.DECORDError, RuntimeError) as err:
        raise UserError(f'cannot decode {path} ({str(err).splitlines()[0][:120]}); '
                        'is it a video file decord can read?') from None
    return torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
