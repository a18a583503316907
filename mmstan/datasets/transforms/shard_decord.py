"""Open a video stored in a tar shard with decord, from memory."""
import io

from mmaction.datasets.transforms import DecordInit
from mmaction.registry import TRANSFORMS

from ..shard_index import read_member


@TRANSFORMS.register_module()
class ShardDecordInit(DecordInit):
    """mmaction2's ``DecordInit`` for samples of ``ShardedVideoCaptionDataset``: reads the
    ``size`` bytes at ``offset`` of the tar ``shard`` (one seek, one read) and opens them
    with ``decord.VideoReader`` from memory. Samples without ``shard`` (plain files) are
    opened as ``DecordInit`` opens them, so one pipeline serves both.

    Sets ``video_reader``, ``total_frames`` and ``avg_fps`` as ``DecordInit`` does; a
    truncated member raises ``OSError`` and an undecodable one decord's ``RuntimeError``
    (the dataset skips and names both).
    """

    def transform(self, results: dict) -> dict:
        if 'shard' not in results:
            return super().transform(results)
        import decord

        data = read_member(results['shard'], results['offset'], results['size'])
        container = decord.VideoReader(io.BytesIO(data), num_threads=self.num_threads)
        results['video_reader'] = container
        results['total_frames'] = len(container)
        results['avg_fps'] = container.get_avg_fps()
        return results
