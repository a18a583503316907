"""Helpers of the shard tests: tiny videos (32 px, 4 frames) and uneven tar shards of them."""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from mmstan.datasets.preparation.shards import write_shard
from mmstan.datasets.synthetic import make_clip, write_video


def make_videos(folder: str, num: int, frames: int = 4) -> Dict[str, str]:
    """``num`` tiny mp4s ``vNNN.mp4`` in ``folder``; returns ``{name: caption}``."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    captions = {}
    for i in range(num):
        clip, shape, color = make_clip(rng, i % 4, 32, frames, 4.0)
        name = f'v{i:03d}.mp4'
        write_video(osp.join(folder, name), clip)
        captions[name] = f'clip {i}: a {color} {shape}'
    return captions


def write_caption_json(path: str, captions: Dict[str, str]) -> str:
    with open(path, 'w') as f:
        json.dump([dict(video=v, caption=c) for v, c in captions.items()], f)
    return path


def make_uneven_shards(out: str, videos: str, captions: Dict[str, str], sizes: Sequence[int]) -> List[str]:
    """Shards ``00000.tar`` ... of ``sizes[s]`` videos each (in caption order); returns the
    keys in order."""
    items = [(v, [c]) for v, c in captions.items()]
    assert sum(sizes) <= len(items)
    os.makedirs(out, exist_ok=True)
    keys, first = [], 0
    for shard, size in enumerate(sizes):
        write_shard(out, shard, items[first:first + size], videos, samples_per_shard=10)
        keys += [f'{shard:05d}{i}' for i in range(size)]
        first += size
    return keys
