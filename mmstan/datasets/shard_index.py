"""Indexes of webdataset tar shards, so a sample is one seek and one read.

A shard is an uncompressed tar in the layout video2dataset writes (and
``tools/data/make_shards.py``): the members of one sample share a key, the member name up
to the first dot of its base name (``000010002.mp4``, ``000010002.txt``, ``000010002.json``).
Its index ``<shard>.idx.json`` lies beside it::

    {"format": 1, "tar_size": 123456,
     "samples": [{"key": "000010002", "video": "000010002.mp4", "offset": 1536,
                  "size": 20480, "captions": ["a red circle moving left"]}, ...]}

``offset`` and ``size`` locate the video's bytes in the tar. Building an index reads the
tar headers and the small caption members only (never a video's bytes). A shard rewritten
in place while a process holds it open is read from the old file by that process.
"""
import glob
import json
import logging
import os
import os.path as osp
import tarfile
from collections import OrderedDict
from typing import Dict, List

from mmengine.logging import print_log

INDEX_SUFFIX = '.idx.json'
INDEX_FORMAT = 1
VIDEO_EXTENSIONS = ('mp4', 'webm', 'mkv', 'avi', 'mov')


def index_path(tar_path: str) -> str:
    """Where the index of ``tar_path`` lies: ``<tar_path>.idx.json``."""
    return tar_path + INDEX_SUFFIX


def split_member_name(name: str) -> tuple:
    """``(key, extension)`` of a tar member as webdataset groups them: the key is the path
    up to the first dot of the base name (``a/b.c.mp4`` -> ``('a/b', 'c.mp4')``)."""
    folder, base = osp.split(name)
    stem, _, ext = base.partition('.')
    return (osp.join(folder, stem) if folder else stem), ext


def _captions_of(tar: tarfile.TarFile, members: Dict[str, tarfile.TarInfo]) -> List[str]:
    """The sample's captions: the lines of its ``.txt`` member (video2dataset writes one
    caption), else the ``caption`` of its ``.json``."""
    if 'txt' in members:
        text = tar.extractfile(members['txt']).read().decode('utf-8')
        return [line.strip() for line in text.splitlines() if line.strip()]
    if 'json' in members:
        caption = json.loads(tar.extractfile(members['json']).read()).get('caption')
        return [] if caption is None else [str(caption)]
    return []


def build_shard_index(tar_path: str) -> dict:
    """The index of one tar (see the module docstring), from its headers and captions.

    Samples without a video member or without a caption are left out with a warning; a
    truncated tar keeps the samples whose video lies wholly in the file."""
    tar_size = osp.getsize(tar_path)
    groups: Dict[str, Dict[str, tarfile.TarInfo]] = {}
    order: List[str] = []
    samples = []
    with tarfile.open(tar_path, mode='r:') as tar:
        try:
            for member in tar:
                if not member.isfile():
                    continue
                key, ext = split_member_name(member.name)
                if key not in groups:
                    groups[key] = {}
                    order.append(key)
                groups[key][ext] = member
        except tarfile.ReadError as err:  # a truncated last header
            print_log(f'{tar_path}: stopped reading at a broken header ({err}); indexing the '
                      'samples before it', logger='current', level=logging.WARNING)
        for key in order:
            members = groups[key]
            video_ext = next((e for e in VIDEO_EXTENSIONS if e in members), None)
            if video_ext is None:
                continue
            video = members[video_ext]
            if video.offset_data + video.size > tar_size:
                print_log(f'{tar_path}: {video.name} is truncated; left out of the index',
                          logger='current', level=logging.WARNING)
                continue
            try:
                captions = _captions_of(tar, members)
            except (OSError, tarfile.TarError, ValueError) as err:  # incl. JSON/Unicode errors
                captions = []
                print_log(f'{tar_path}: unreadable caption of {key} ({err})', logger='current',
                          level=logging.WARNING)
            if not captions:
                print_log(f'{tar_path}: {key} has no caption (.txt or .json "caption"); left out',
                          logger='current', level=logging.WARNING)
                continue
            samples.append(dict(key=key, video=video.name, offset=video.offset_data,
                                size=video.size, captions=captions))
    return dict(format=INDEX_FORMAT, tar_size=tar_size, samples=samples)


def write_shard_index(tar_path: str) -> dict:
    """Build the index of ``tar_path`` and write it beside it (atomically); returns it."""
    index = build_shard_index(tar_path)
    tmp = index_path(tar_path) + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(index, f)
    os.replace(tmp, index_path(tar_path))
    return index


def load_shard_index(tar_path: str) -> dict:
    """The index written by :func:`write_shard_index` (raises ``FileNotFoundError``)."""
    with open(index_path(tar_path)) as f:
        return json.load(f)


def find_shards(location: str) -> List[str]:
    """The tar shards at ``location`` (a folder, a glob pattern or one ``.tar``), sorted."""
    if osp.isdir(location):
        return sorted(glob.glob(osp.join(location, '*.tar')))
    if any(c in location for c in '*?['):
        return sorted(glob.glob(location))
    return [location] if osp.isfile(location) else []


#: Open shards of this process, ``{path: file descriptor}``, least recently used first: a
#: sample costs no ``open()`` (a metadata operation on a shared filesystem).
_OPEN_SHARDS: 'OrderedDict[str, int]' = OrderedDict()
MAX_OPEN_SHARDS = 64


def _shard_fd(tar_path: str) -> int:
    fd = _OPEN_SHARDS.pop(tar_path, None)
    if fd is None:
        fd = os.open(tar_path, os.O_RDONLY)
        if len(_OPEN_SHARDS) >= MAX_OPEN_SHARDS:
            os.close(_OPEN_SHARDS.popitem(last=False)[1])
    _OPEN_SHARDS[tar_path] = fd
    return fd


def read_member(tar_path: str, offset: int, size: int) -> bytes:
    """The ``size`` bytes at ``offset`` of ``tar_path``: one positioned read (``pread``, so
    DataLoader workers forked with the descriptor open share no file offset) on a
    descriptor kept open per process. Raises ``OSError`` naming the member when the file
    ends before them (a truncated tar)."""
    data = os.pread(_shard_fd(tar_path), size, offset)
    if len(data) != size:
        raise OSError(f'{tar_path} is truncated: {len(data)} of the {size} bytes at offset {offset}')
    return data
