"""The on-disk video index of ``tools/search.py``: per-video frame embeddings (what the
model's head scores) and one pooled embedding per video (what FAISS searches).

Layout of an index folder::

    manifest.json                 what is indexed: metadata + the committed shards, in order
    config.py                     the model config the embeddings were made with
    shard_00000.keys.json         the shard's video keys (paths relative to the source)
    shard_00000.frames.npy        frame embeddings   [n, T, E] float32 (memory-mapped at query)
    shard_00000.pooled.npy        pooled embeddings  [n, D] float32 (the head's stage-1 vectors)
    pooled.faiss                  FAISS inner-product index over every pooled embedding

A shard's files are written first, each to a temporary name renamed into place, and only
then listed in ``manifest.json`` (itself replaced atomically): the manifest is the one
record of what is indexed, so a run killed at any point leaves a consistent index, and
files of a shard it had not listed are simply overwritten by the next run. Global video
ids (FAISS ids) are positions in the manifest's shard order.
"""
import json
import os
import os.path as osp
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmstan.errors import UserError

MANIFEST = 'manifest.json'
FAISS_FILE = 'pooled.faiss'
FORMAT_VERSION = 1


_TEMPORARY = re.compile(r'\.tmp\d+$')


def _atomic_write(path: str, write: Callable) -> None:
    """Call ``write(file)`` on a temporary file, flush it to disk, rename it to ``path``."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_json(path: str, obj) -> None:
    _atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1).encode()))


def _faiss():
    try:
        import faiss
    except ImportError as err:
        raise UserError('faiss is not installed: pip install faiss-cpu (listed in '
                        'requirements/runtime.txt)') from err
    return faiss


class VideoIndex:
    """An index folder, opened for reading and appending.

    Use :meth:`create` for a new folder (or to resume one made with the same ``meta``)
    and :meth:`open` to read one.
    """

    def __init__(self, root: str, manifest: dict):
        self.root = root
        self.manifest = manifest
        self._keys: List[str] = []
        self._shard_of: List[Tuple[int, int]] = []  # global id -> (shard, row)
        for s, shard in enumerate(manifest['shards']):
            with open(self._path(shard['name'], 'keys.json')) as f:
                keys = json.load(f)
            if len(keys) != shard['count']:
                raise UserError(f'{self._path(shard["name"], "keys.json")} lists {len(keys)} '
                                f'videos, the manifest {shard["count"]}; rebuild the index')
            self._keys += keys
            self._shard_of += [(s, r) for r in range(len(keys))]
        self._ids = {k: i for i, k in enumerate(self._keys)}
        self._where: Optional[np.ndarray] = None  # _shard_of as an array, built on use
        self._frames_cache: Dict[int, np.ndarray] = {}
        self._faiss = None

    # ------------------------------------------------------------------ open / create
    @classmethod
    def open(cls, root: str) -> 'VideoIndex':
        path = osp.join(root, MANIFEST)
        if not osp.isfile(path):
            raise UserError(f'no video index at {root} ({MANIFEST} missing); build one with '
                            '`tools/search.py index`')
        with open(path) as f:
            manifest = json.load(f)
        if manifest.get('format') != FORMAT_VERSION:
            raise UserError(f'{path}: index format {manifest.get("format")}, this mmstan reads '
                            f'{FORMAT_VERSION}; rebuild the index')
        return cls(root, manifest)

    @classmethod
    def create(cls, root: str, meta: dict, config_text: Optional[str] = None,
               info: Optional[dict] = None) -> 'VideoIndex':
        """Open ``root`` to add videos: a new index, or the one already there if it was
        made with the same ``meta`` (same model config and checkpoint: resuming).

        ``config_text`` is saved as ``config.py``; ``info`` (e.g. the checkpoint's path)
        is kept in the manifest and updated on resume, but not compared."""
        if osp.isfile(osp.join(root, MANIFEST)):
            for name in os.listdir(root):  # temporaries of a killed run (_atomic_write)
                if _TEMPORARY.search(name):
                    os.remove(osp.join(root, name))
            index = cls.open(root)
            if index.meta != meta:
                changed = sorted(k for k in set(meta) | set(index.meta)
                                 if meta.get(k) != index.meta.get(k))
                raise UserError(f'{root} holds an index made with other settings ({", ".join(changed)} '
                                'differ); give a new --out folder or delete that one')
            if info is not None and index.info != info:
                index.manifest = dict(index.manifest, info=info)
                _write_json(osp.join(root, MANIFEST), index.manifest)
            return index
        os.makedirs(root, exist_ok=True)
        if config_text is not None:
            _atomic_write(osp.join(root, 'config.py'), lambda f: f.write(config_text.encode()))
        manifest = dict(format=FORMAT_VERSION, meta=meta, info=info or {}, shards=[], skipped={})
        _write_json(osp.join(root, MANIFEST), manifest)
        return cls(root, manifest)

    # ------------------------------------------------------------------ contents
    @property
    def meta(self) -> dict:
        return self.manifest['meta']

    @property
    def info(self) -> dict:
        return self.manifest.get('info', {})

    @property
    def keys(self) -> List[str]:
        """Video keys in id order."""
        return list(self._keys)

    @property
    def skipped(self) -> Dict[str, str]:
        """``{key: reason}`` of the videos the last run could not read."""
        return dict(self.manifest.get('skipped', {}))

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._ids

    def id_of(self, key: str) -> int:
        return self._ids[key]

    def _path(self, shard: str, suffix: str) -> str:
        return osp.join(self.root, f'{shard}.{suffix}')

    def _shard_frames(self, s: int) -> np.ndarray:
        if s not in self._frames_cache:
            name = self.manifest['shards'][s]['name']
            self._frames_cache[s] = np.load(self._path(name, 'frames.npy'), mmap_mode='r')
        return self._frames_cache[s]

    def frames(self, ids: Sequence[int]) -> np.ndarray:
        """Frame embeddings ``[len(ids), T, E]`` of the videos ``ids`` (in that order)."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        if len(ids) == 0:
            return np.zeros((0, 0, self.meta['embed_dim']), np.float32)
        if self._where is None:
            self._where = np.asarray(self._shard_of, np.int64).reshape(-1, 2)
        where = self._where[ids]  # [n, (shard, row)]
        first = self._shard_frames(int(where[0, 0]))
        out = np.empty((len(ids), *first.shape[1:]), np.float32)
        for s in np.unique(where[:, 0]):
            rows = where[:, 0] == s
            out[rows] = self._shard_frames(int(s))[where[rows, 1]]
        return out

    def pooled(self) -> np.ndarray:
        """Every pooled embedding ``[N, E]`` in id order."""
        parts = [np.load(self._path(s['name'], 'pooled.npy')) for s in self.manifest['shards']]
        if not parts:
            return np.zeros((0, self.meta.get('embed_dim', 0)), np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)

    # ------------------------------------------------------------------ writing
    def append(self, keys: Sequence[str], frames: np.ndarray, pooled: np.ndarray,
               skipped: Optional[Dict[str, str]] = None) -> None:
        """Commit one shard: ``frames [n, T, E]``, ``pooled [n, E]`` of videos ``keys``
        (none of them indexed yet), and the run's unreadable videos so far."""
        keys = list(keys)
        assert len(keys) == len(frames) == len(pooled), (len(keys), frames.shape, pooled.shape)
        dupes = [k for k in keys if k in self._ids] + [k for k in set(keys) if keys.count(k) > 1]
        if dupes:
            raise ValueError(f'videos already in the index: {dupes[:5]}')
        name = f'shard_{len(self.manifest["shards"]):05d}'
        frames = np.ascontiguousarray(frames, np.float32)
        pooled = np.ascontiguousarray(pooled, np.float32)
        _atomic_write(self._path(name, 'frames.npy'), lambda f: np.save(f, frames))
        _atomic_write(self._path(name, 'pooled.npy'), lambda f: np.save(f, pooled))
        _atomic_write(self._path(name, 'keys.json'), lambda f: f.write(json.dumps(keys).encode()))
        manifest = dict(self.manifest, shards=self.manifest['shards'] + [dict(name=name, count=len(keys))])
        if skipped is not None:
            manifest['skipped'] = dict(skipped)
        _write_json(osp.join(self.root, MANIFEST), manifest)  # the commit point
        s = len(self.manifest['shards'])
        self.manifest = manifest
        for r, key in enumerate(keys):
            self._ids[key] = len(self._keys)
            self._keys.append(key)
            self._shard_of.append((s, r))
        self._where = self._faiss = None

    def recompute_pooled(self, pooled_of: Callable[[np.ndarray], np.ndarray], meta: dict) -> None:
        """Replace every shard's pooled embeddings by ``pooled_of(its frames)`` and the
        manifest's metadata by ``meta`` (for pooled embeddings of another meaning, made
        from the same stored frames).

        The FAISS file goes first and the manifest changes last: a run killed in between
        leaves the old metadata, so the next one recomputes every shard again."""
        path = osp.join(self.root, FAISS_FILE)
        if osp.isfile(path):
            os.remove(path)
        self._faiss = None
        for s, shard in enumerate(self.manifest['shards']):
            pooled = np.ascontiguousarray(pooled_of(np.asarray(self._shard_frames(s))), np.float32)
            if len(pooled) != shard['count']:
                raise ValueError(f'{len(pooled)} pooled embeddings for the {shard["count"]} '
                                 f'videos of {shard["name"]}')
            _atomic_write(self._path(shard['name'], 'pooled.npy'), lambda f, p=pooled: np.save(f, p))
        self.manifest = dict(self.manifest, meta=dict(meta))
        _write_json(osp.join(self.root, MANIFEST), self.manifest)

    def set_skipped(self, skipped: Dict[str, str]) -> None:
        """Record the videos the current run could not read (they are tried again next run)."""
        self.manifest = dict(self.manifest, skipped=dict(skipped))
        _write_json(osp.join(self.root, MANIFEST), self.manifest)

    # ------------------------------------------------------------------ FAISS
    def faiss_index(self):
        """The FAISS inner-product index over :meth:`pooled` (ids = video ids), read from
        ``pooled.faiss``, or built and saved when that is missing or stale (a run that
        stopped before writing it)."""
        if self._faiss is not None:
            return self._faiss
        faiss = _faiss()
        path = osp.join(self.root, FAISS_FILE)
        index = faiss.read_index(path) if osp.isfile(path) else None
        if index is None or index.ntotal != len(self):
            pooled = self.pooled()
            index = faiss.IndexFlatIP(pooled.shape[1])
            index.add(pooled)
            _atomic_write(path, lambda f: f.write(faiss.serialize_index(index).tobytes()))
        self._faiss = index
        return index

    def search(self, vectors: np.ndarray, k: int,
               subset: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Stage 1: the ``k`` largest inner products of each of ``vectors [M, E]`` with
        the pooled embeddings (only those of ``subset`` ids when given).

        Returns ``(scores [M, k'], ids [M, k'])``, best first, ``k' = min(k, gallery)``.
        """
        vectors = np.ascontiguousarray(vectors, np.float32)
        if subset is None:
            index, ids = self.faiss_index(), None
        else:
            ids = np.asarray(subset, np.int64)
            pooled = self.pooled()[ids]
            index = _faiss().IndexFlatIP(pooled.shape[1])
            index.add(pooled)
        k = min(k, index.ntotal)
        if k == 0:
            empty = np.zeros((len(vectors), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores, found = index.search(vectors, k)
        return scores, found if ids is None else ids[found]
