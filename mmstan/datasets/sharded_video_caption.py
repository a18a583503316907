"""Video-caption pairs read from webdataset tar shards through their indexes."""
import io
import os.path as osp
from typing import Iterable, List, Tuple

from mmaction.registry import DATASETS

from mmstan.errors import UserError

from .shard_index import find_shards, index_path, load_shard_index, read_member
from .unreadable_videos import READ_ERRORS, is_read_error
from .video_text import VideoCaptionDataset

MAKE_SHARDS = 'tools/data/make_shards.py'


@DATASETS.register_module()
class ShardedVideoCaptionDataset(VideoCaptionDataset):
    """:class:`VideoCaptionDataset` whose videos lie in tar shards (WebVid at scale).

    ``ann_file`` names the shards: a folder of ``*.tar``, a glob pattern or one ``.tar``
    (relative to ``data_root``), each with the index ``tools/data/make_shards.py`` writes
    beside it (``<shard>.idx.json``: key, offset, size and caption of every sample; see
    :mod:`mmstan.datasets.shard_index`). The dataset is map-style: sample ``i`` is one
    seek and one read of a video's bytes, decoded from memory by the pipeline's
    ``ShardDecordInit`` step, so ``len()``, mmengine's samplers, DDP splitting and the
    retrieval pipelines work as with files.

    Each sample carries ``filename`` (``<shard>:<member>``, how warnings name it),
    ``shard``, ``offset``, ``size`` and, as in :class:`VideoCaptionDataset`, ``text`` +
    ``video_id`` (training pairs) or ``captions`` (per video, ``test_mode``; the caption
    stream :meth:`caption_list` / :meth:`caption_dataset` works unchanged). A truncated or
    undecodable member is skipped with a warning naming it (training) or dropped when the
    dataset loads (``check_videos``, the default in ``test_mode``).

    Args:
        ann_file: the shards (see above).
        **kwargs: :class:`VideoCaptionDataset` arguments (``pipeline``, ``test_mode``, ...).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        steps = [type(t).__name__ for t in self.pipeline.transforms]
        if 'DecordInit' in steps:
            raise UserError(f'{self.ann_file}: ShardedVideoCaptionDataset reads videos from tar '
                            'shards; replace DecordInit with ShardDecordInit in its pipeline')

    def shards(self) -> List[str]:
        return find_shards(self.ann_file)

    def check_ann_file(self) -> None:
        shards = self.shards()
        if not shards:
            raise UserError(f'no tar shard at {self.ann_file}; write shards with {MAKE_SHARDS} or '
                            'fix `ann_file` (a folder of .tar, or a glob) in the config')
        missing = [s for s in shards if not osp.isfile(index_path(s))]
        if missing:
            raise UserError(f'{len(missing)} of {len(shards)} shards have no index (first: '
                            f'{index_path(missing[0])}); run python {MAKE_SHARDS} index '
                            f'{self.ann_file}')

    def videos_and_captions(self) -> Iterable[Tuple[dict, List[str]]]:
        for shard in self.shards():
            for sample in load_shard_index(shard)['samples']:
                video = dict(filename=f'{shard}:{sample["video"]}', shard=shard,
                             offset=sample['offset'], size=sample['size'])
                yield video, sample['captions']

    def is_readable(self, info: dict) -> bool:
        import decord

        try:
            data = read_member(info['shard'], info['offset'], info['size'])
            return len(decord.VideoReader(io.BytesIO(data), num_threads=1)) > 0
        except READ_ERRORS as err:
            if is_read_error(err):
                return False
            raise
