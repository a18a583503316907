"""Decode throughput of the same videos read as individual files and from indexed tar
shards, and the time to index shards (the library of ``tools/analysis/benchmark_shards.py``).

Both sides run the same decode pipeline (open with decord, sample ``clip_len`` frames
uniformly, decode them) through the real datasets: ``VideoCaptionDataset`` with
``DecordInit`` on the files, ``ShardedVideoCaptionDataset`` with ``ShardDecordInit`` on the
shards ``tools/data/make_shards.py`` writes from those files. The two sides are timed
sample by sample in alternation, for ``rounds`` rounds after one warm-up round, and each
reports its median, so load changes hit both alike.
"""
import io
import json
import os
import os.path as osp
import statistics
import tarfile
import tempfile
import time
from typing import Optional

import numpy as np

CLIP_LEN = 8


def write_videos(folder: str, num: int, size: int, frames: int) -> str:
    """``num`` synthetic mp4s (``size`` px, ``frames`` frames) and their caption JSON;
    returns the JSON's path."""
    from mmstan.datasets.synthetic import make_clip, write_video

    os.makedirs(osp.join(folder, 'videos'), exist_ok=True)
    rng = np.random.default_rng(0)
    items = []
    for i in range(num):
        clip, shape, color = make_clip(rng, i % 4, size, frames, 4.0)
        write_video(osp.join(folder, 'videos', f'{i:05d}.mp4'), clip)
        items.append(dict(video=f'{i:05d}.mp4', caption=f'a {color} {shape}'))
    path = osp.join(folder, 'captions.json')
    with open(path, 'w') as f:
        json.dump(items, f)
    return path


def interleaved_clips_per_second(first, second) -> tuple:
    """Clips/s of two datasets of equal length, timed sample by sample in alternation
    (``first[i]``, ``second[i]``, ...) so that load changes hit both alike."""
    spent = [0.0, 0.0]
    for idx in range(len(first)):
        for side, dataset in enumerate((first, second)):
            start = time.perf_counter()
            assert len(dataset[idx]['imgs']) == CLIP_LEN
            spent[side] += time.perf_counter() - start
    return len(first) / spent[0], len(second) / spent[1]


def write_header_tar(path: str, samples: int, payload: int) -> None:
    """A tar of ``samples`` video2dataset-style samples whose .mp4 members are ``payload``
    placeholder bytes (indexing reads headers and captions only)."""
    data = bytes(payload)
    with tarfile.open(path, 'w') as tar:
        for i in range(samples):
            for ext, body in (('json', b'{}'), ('mp4', data), ('txt', f'caption {i}'.encode())):
                info = tarfile.TarInfo(f'{i:09d}.{ext}')
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))


def benchmark_shards(videos: int = 200, size: int = 96, frames: int = 10,
                     samples_per_shard: int = 50, rounds: int = 5, index_samples: int = 10000,
                     payload: int = 20_000, out: Optional[str] = None) -> dict:
    """Clips/s from files and from shards of the same ``videos`` clips (medians over
    ``rounds``), and seconds to index 1000 samples: of those shards, and of one tar of
    ``index_samples`` samples with ``payload``-byte videos; for that tar also the seconds
    the dataset takes to load 1000 samples from the index and the bytes a sample takes in
    its serialized list (mmengine's ``data_bytes``, shared by the DataLoader workers)."""
    from mmengine.registry import init_default_scope

    import mmstan  # noqa: F401  (registers the datasets and transforms)
    from mmstan.datasets import ShardedVideoCaptionDataset, VideoCaptionDataset
    from mmstan.datasets.preparation.shards import write_shards
    from mmstan.datasets.shard_index import build_shard_index, find_shards, write_shard_index

    init_default_scope('mmaction')
    tmp = None if out else tempfile.TemporaryDirectory()
    root = out or tmp.name
    try:
        captions = write_videos(root, videos, size, frames)
        shard_dir = osp.join(root, 'shards')
        write_shards(captions, osp.join(root, 'videos'), shard_dir, samples_per_shard)
        decode = [dict(type='UniformSample', clip_len=CLIP_LEN, test_mode=True), dict(type='DecordDecode')]
        files = VideoCaptionDataset(ann_file=captions, data_prefix=dict(video=osp.join(root, 'videos')),
                                    pipeline=[dict(type='DecordInit')] + decode)
        shards = ShardedVideoCaptionDataset(ann_file=shard_dir,
                                            pipeline=[dict(type='ShardDecordInit')] + decode)
        assert len(files) == len(shards) == videos
        interleaved_clips_per_second(files, shards)  # warm-up (page cache, decoders), not counted
        file_rates, shard_rates = [], []
        for r in range(rounds):  # alternate which side goes first
            pair = (files, shards) if r % 2 == 0 else (shards, files)
            rates = interleaved_clips_per_second(*pair)
            file_rates.append(rates[r % 2])
            shard_rates.append(rates[1 - r % 2])

        tars = find_shards(shard_dir)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            for tar in tars:
                build_shard_index(tar)
            times.append(time.perf_counter() - start)
        big = osp.join(root, 'headers.tar')
        write_header_tar(big, index_samples, payload)
        big_times = []
        for _ in range(rounds):
            start = time.perf_counter()
            assert len(build_shard_index(big)['samples']) == index_samples
            big_times.append(time.perf_counter() - start)
        write_shard_index(big)
        start = time.perf_counter()
        listing = ShardedVideoCaptionDataset(ann_file=big, pipeline=[dict(type='ShardDecordInit')])
        load_s = time.perf_counter() - start
        file_cps, shard_cps = statistics.median(file_rates), statistics.median(shard_rates)
        return dict(videos=videos, size=size, frames=frames, shards=len(tars), rounds=rounds,
                    files_clips_per_s=file_cps, shards_clips_per_s=shard_cps,
                    ratio=shard_cps / file_cps,
                    index_s_per_1000=statistics.median(times) / videos * 1000,
                    big_index_samples=index_samples, big_index_tar_mb=osp.getsize(big) / 2**20,
                    big_index_s_per_1000=statistics.median(big_times) / index_samples * 1000,
                    load_s_per_1000=load_s / index_samples * 1000,
                    bytes_per_sample=listing.data_bytes.nbytes / index_samples)
    finally:
        if tmp is not None:
            tmp.cleanup()
