"""Build (or resume) a video index: decode each video with the config's test pipeline,
encode it, and commit the embeddings shard by shard (see :mod:`.video_index`).

A run that is killed loses at most the shard it was filling: the next run with the same
model, checkpoint and source lists what the index already holds and encodes only the
rest, so no video is indexed twice. Videos that cannot be read are skipped, named in a
warning and recorded in the manifest (a later run tries them again).

The manifest names the rule the stage-1 vectors were made by (``stage1``, see
:mod:`.pooled_embeddings`); an index made by another rule (an older mmstan) has them
recomputed from its stored video features when it is resumed or queried
(:func:`update_stage1`), nothing re-encoded.
"""
import logging
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from tqdm import tqdm

from mmstan.datasets.unreadable_videos import READ_ERRORS, is_read_error
from mmstan.datasets.video_text import read_caption_annotation
from mmstan.errors import UserError
from mmstan.utils.paths import require_file

from .pooled_embeddings import stage1_rule, video_vectors
from .search_model import SearchModel, config_sha256
from .video_index import MANIFEST, VideoIndex

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.mpg', '.mpeg', '.flv',
                    '.wmv', '.3gp', '.ts')

#: ``(key, path)``: the name a video has in the index (relative to the source) and its file.
Video = Tuple[str, str]


def videos_in_folder(folder: str) -> List[Video]:
    """Every video file under ``folder`` (recursively, by extension), sorted by key."""
    if not osp.isdir(folder):
        raise UserError(f'video folder not found: {folder}; give the folder holding the videos')
    videos = []
    for dirpath, _, files in os.walk(folder, followlinks=True):
        for name in files:
            if name.lower().endswith(VIDEO_EXTENSIONS):
                path = osp.join(dirpath, name)
                videos.append((osp.relpath(path, folder).replace(os.sep, '/'), path))
    if not videos:
        raise UserError(f'no video file ({", ".join(VIDEO_EXTENSIONS[:4])}, ...) under {folder}')
    return sorted(videos)


def videos_in_annotation(ann_file: str, video_root: str = '') -> List[Video]:
    """The videos a caption annotation lists (``VideoCaptionDataset`` format), keyed by
    their name there, found under ``video_root``."""
    require_file(ann_file, 'annotation file', 'give a caption JSON made by tools/data/prepare_retrieval.py')
    return [(name, osp.join(video_root, name) if video_root else name)
            for name in read_caption_annotation(ann_file)]


class _VideoFiles(torch.utils.data.Dataset):
    """``(key, packed sample or None, error or None)`` per video (runs in loader workers)."""

    def __init__(self, videos: Sequence[Video], load: Callable[[str], dict]):
        self.videos, self.load = list(videos), load

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int):
        key, path = self.videos[i]
        try:
            return key, self.load(path), None
        except READ_ERRORS as err:
            if not is_read_error(err):
                raise
            first_line = (str(err).strip().splitlines() or [''])[0]
            return key, None, f'{type(err).__name__}: {first_line}'


def _as_list(batch):
    return batch


@dataclass
class IndexRun:
    """What one :func:`index_videos` call did."""
    total: int                       # videos in the source
    already: int                     # found in the index when the run started
    added: int                       # encoded and committed by this run
    skipped: Dict[str, str] = field(default_factory=dict)  # key -> why it could not be read


#: Manifest metadata that names the stage-1 vectors: ``stage1`` (:func:`stage1_rule`), and
#: ``head_mode``, which indexes of stage-1 version 1 have instead (their vectors were
#: Mug's rule for every head).
STAGE1_KEYS = ('stage1', 'head_mode')


def index_meta(model: SearchModel, checkpoint_sha256: str, source: str) -> dict:
    """What an index's embeddings depend on; a run resumes an index only if all match.
    Raises ``UserError`` for a head that gives no stage-1 vectors."""
    return dict(config_sha256=config_sha256(model.cfg), checkpoint_sha256=checkpoint_sha256,
                stage1=stage1_rule(model.head), embed_dim=model.embed_dim, source=source)


def _without_stage1(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k not in STAGE1_KEYS}


def update_stage1(index: VideoIndex, head: torch.nn.Module) -> bool:
    """If ``index`` holds stage-1 vectors made by another rule than ``head``'s (an index
    of an older mmstan), recompute them from the stored video features with ``head``
    and record the rule in the manifest. The caller has checked that ``head`` is the
    model the index was made with (config and checkpoint). Returns whether it did."""
    rule = stage1_rule(head)
    if index.meta.get('stage1') == rule:
        return False
    old = index.meta.get('stage1') or 'stage-1 version 1 (Mug pooling whatever the head)'
    print_log(f'{index.root}: the stage-1 vectors were made by {old}; recomputing them as '
              f'{rule} from the stored features of its {len(index)} videos', logger='current',
              level=logging.WARNING)
    index.recompute_pooled(lambda frames: video_vectors(head, torch.from_numpy(frames)).numpy(),
                           dict(_without_stage1(index.meta), stage1=rule))
    return True


def index_videos(root: str, model: SearchModel, videos: Sequence[Video], meta: dict,
                 batch_size: int = 8, shard_size: int = 64, num_workers: int = 0,
                 info: Optional[dict] = None, progress: bool = True) -> IndexRun:
    """Encode the ``videos`` not yet in the index at ``root`` and commit them.

    Args:
        root: index folder (created, or resumed if made with the same ``meta``).
        model: the search model (its test pipeline decodes, its backbone encodes).
        videos: ``(key, path)`` pairs, e.g. from :func:`videos_in_folder`.
        meta: see :func:`index_meta`.
        batch_size: videos per forward.
        shard_size: videos per committed shard (at most this many are lost by a kill).
        num_workers: decoding processes (0: decode in this process).
        info: extra manifest entries that a resumed run does not compare (paths).
    """
    keys = [k for k, _ in videos]
    if len(set(keys)) != len(keys):
        raise UserError('the video list names some videos twice')
    if osp.isfile(osp.join(root, MANIFEST)):
        existing = VideoIndex.open(root)
        if _without_stage1(existing.meta) == _without_stage1(meta):  # same model: resuming
            update_stage1(existing, model.head)
    index = VideoIndex.create(root, meta, config_text=model.cfg.pretty_text, info=info)
    todo = [(k, p) for k, p in videos if k not in index]
    run = IndexRun(total=len(videos), already=len(videos) - len(todo), added=0)
    paths = dict(videos)
    loader = torch.utils.data.DataLoader(_VideoFiles(todo, model.load_video), batch_size=batch_size,
                                         num_workers=num_workers, collate_fn=_as_list)
    bar = tqdm(total=len(videos), initial=run.already, unit='video', desc='indexing',
               disable=not progress, dynamic_ncols=True)
    pending: List[Tuple[List[str], np.ndarray]] = []

    def commit():
        if pending:
            frames = np.concatenate([f for _, f in pending])
            pooled = video_vectors(model.head, torch.from_numpy(frames)).numpy()
            index.append([k for ks, _ in pending for k in ks], frames, pooled, skipped=run.skipped)
            run.added += len(frames)
            pending.clear()

    for batch in loader:
        good = [(key, packed) for key, packed, err in batch if err is None]
        for key, _, err in batch:
            if err is not None:
                run.skipped[key] = err
                print_log(f'skipping unreadable video {paths[key]} ({err})', logger='current',
                          level=logging.WARNING)
        if good:
            frames = model.encode_videos([packed for _, packed in good]).numpy()
            pending.append(([key for key, _ in good], frames))
        bar.update(len(batch))
        if sum(len(ks) for ks, _ in pending) >= shard_size:
            commit()
    commit()
    bar.close()
    index.set_skipped(run.skipped)
    if len(index):
        index.faiss_index()  # build and save the stage-1 index
    return run
