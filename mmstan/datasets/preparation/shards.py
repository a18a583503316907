"""Videos + captions -> webdataset tar shards with indexes: the library of
``tools/data/make_shards.py``.

:func:`write_shards` writes shard ``s`` (``{s:05d}.tar``) from the annotation's videos
``s*N .. s*N+N-1`` in the layout video2dataset writes: per sample the members
``<key>.json``, ``<key>.mp4``, ``<key>.txt`` (in that order, as webdataset's writer sorts
them; the .txt holds one caption a line), key ``{shard:05d}{position:0Kd}``. A shard is
written to ``<name>.tmp`` and renamed when complete, then indexed
(:mod:`mmstan.datasets.shard_index`); a shard with its index is finished and never written
again, so an interrupted run resumes where it stopped. Members
carry fixed metadata (mtime 0), so a shard's bytes depend on its videos and captions only.
Videos decord cannot open (missing, corrupt) are named and left out. ``shards.json`` records
the number of samples and ``samples_per_shard``; a resumed run must use the same.

:func:`index_shards` indexes existing tars in place (video2dataset's output).
"""
import io
import json
import logging
import math
import os
import os.path as osp
import tarfile
from multiprocessing import Pool
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from tqdm import tqdm

from mmstan.errors import UserError
from mmstan.utils.paths import require_file

from ..shard_index import find_shards, index_path, write_shard_index
from ..unreadable_videos import video_is_readable
from ..video_text import read_caption_annotation
from .retrieval import read_webvid_csv

#: One sample: (video path relative to the video folder, its captions).
Item = Tuple[str, List[str]]


def read_items(captions_file: str) -> List[Item]:
    """The videos and captions of our caption JSON (either layout) or a WebVid CSV."""
    require_file(captions_file, 'caption file', 'pass our caption JSON or the WebVid CSV')
    if captions_file.endswith('.csv'):
        pairs: Dict[str, List[str]] = {}
        for row in read_webvid_csv(captions_file):
            pairs.setdefault(row['video'], []).append(row['caption'])
        return list(pairs.items())
    return list(read_caption_annotation(captions_file).items())


def shard_name(shard: int) -> str:
    return f'{shard:05d}.tar'


def key_width(samples_per_shard: int) -> int:
    """Digits of a sample's position in its shard (video2dataset: ceil(log10(N)))."""
    return max(1, math.ceil(math.log10(samples_per_shard)))


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o444
    tar.addfile(info, io.BytesIO(data))


def write_shard(out: str, shard: int, items: Sequence[Item], video_root: str,
                samples_per_shard: int) -> List[str]:
    """Write shard ``shard`` of ``items`` (its ``samples_per_shard`` slice) and its index;
    returns the videos left out as unreadable."""
    tar_path = osp.join(out, shard_name(shard))
    tmp = tar_path + '.tmp'
    width = key_width(samples_per_shard)
    left_out = []
    with tarfile.open(tmp, mode='w', format=tarfile.GNU_FORMAT) as tar:
        for position, (video, captions) in enumerate(items):
            path = osp.join(video_root, video)
            if not video_is_readable(path):
                left_out.append(path)
                continue
            key = f'{shard:05d}{position:0{width}d}'
            with open(path, 'rb') as f:
                data = f.read()
            meta = dict(key=key, video=video, caption=captions[0], captions=captions)
            _add_member(tar, f'{key}.json', json.dumps(meta, indent=1).encode())
            _add_member(tar, f'{key}{osp.splitext(video)[1] or ".mp4"}', data)
            _add_member(tar, f'{key}.txt', '\n'.join(' '.join(c.split('\n')) for c in captions).encode())
    os.replace(tmp, tar_path)
    write_shard_index(tar_path)
    return left_out


def _write_shard_job(args: tuple) -> Tuple[int, List[str]]:
    return args[1], write_shard(*args)


def is_finished(tar_path: str) -> bool:
    """A shard is finished once its index exists (the index is written last)."""
    return osp.isfile(tar_path) and osp.isfile(index_path(tar_path))


def write_shards(captions_file: str, video_root: str, out: str, samples_per_shard: int = 1000,
                 workers: int = 1) -> List[str]:
    """Write the shards of ``captions_file``'s videos (under ``video_root``) into ``out``,
    skipping finished ones; returns the unreadable videos left out (of the shards written
    in this run)."""
    if samples_per_shard < 1:
        raise UserError(f'--samples-per-shard must be positive, got {samples_per_shard}')
    items = read_items(captions_file)
    os.makedirs(out, exist_ok=True)
    _check_layout(out, dict(samples=len(items), samples_per_shard=samples_per_shard))
    num_shards = math.ceil(len(items) / samples_per_shard)
    todo = [s for s in range(num_shards) if not is_finished(osp.join(out, shard_name(s)))]
    if len(todo) < num_shards:
        print_log(f'{num_shards - len(todo)} of {num_shards} shards already written in {out}; '
                  'keeping them', logger='current')
    jobs = [(out, s, items[s * samples_per_shard:(s + 1) * samples_per_shard], video_root,
             samples_per_shard) for s in todo]
    left_out: List[str] = []
    for _, skipped in _run(_write_shard_job, jobs, workers, 'shards'):
        for path in skipped:
            print_log(f'left out unreadable video {path} (missing or corrupt)', logger='current',
                      level=logging.WARNING)
        left_out += skipped
    print_log(f'{num_shards} shards of up to {samples_per_shard} samples in {out}; '
              f'{len(left_out)} unreadable videos left out in this run', logger='current')
    return sorted(left_out)


def _check_layout(out: str, layout: dict) -> None:
    """Record how ``out``'s shards are cut (``shards.json``), or check a resumed run cuts
    them the same way (finished shards are kept, so they must hold the same samples)."""
    path = osp.join(out, 'shards.json')
    if osp.isfile(path):
        with open(path) as f:
            before = json.load(f)
        if before != layout:
            raise UserError(f'{out} holds shards of {before["samples"]} samples, '
                            f'{before["samples_per_shard"]} a shard ({path}); resume with the same '
                            'captions and --samples-per-shard, or write to a new --out')
        return
    with open(path, 'w') as f:
        json.dump(layout, f)


def index_shards(location: str, force: bool = False, workers: int = 1) -> int:
    """Index the tars at ``location`` (folder or glob) that have no index yet (all with
    ``force``); returns the number of samples indexed."""
    shards = find_shards(location)
    if not shards:
        raise UserError(f'no .tar at {location}; pass the folder video2dataset wrote '
                        '(--output_folder) or a glob of its tars')
    todo = [s for s in shards if force or not osp.isfile(index_path(s))]
    samples = 0
    for index in _run(write_shard_index, todo, workers, 'index'):
        samples += len(index['samples'])
    print_log(f'indexed {len(todo)} of {len(shards)} tars ({samples} samples); '
              f'{len(shards) - len(todo)} already had an index', logger='current')
    return samples


def _run(fn, jobs: list, workers: int, desc: str) -> Iterable:
    """``fn(job)`` for each job, in ``workers`` processes, with a progress bar."""
    bar = tqdm(total=len(jobs), desc=desc, unit='shard')
    pool: Optional[Pool] = Pool(workers) if workers > 1 and len(jobs) > 1 else None
    try:
        results = pool.imap_unordered(fn, jobs) if pool else map(fn, jobs)
        for result in results:
            bar.update()
            yield result
    finally:
        bar.close()
        if pool:
            pool.close()
            pool.join()
