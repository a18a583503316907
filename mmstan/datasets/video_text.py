"""Video-text datasets for retrieval (MSR-VTT, DiDeMo, LSMDC, MSVD) and post-pretraining
(WebVid-style lists), in one annotation format that ``tools/data/prepare_retrieval.py`` converts
each dataset's public files into:

- ``{"video.mp4": ["caption", ...], ...}`` (a JSON object), or
- ``[{"video": "video.mp4", "caption": "..."}, ...]`` (a JSON list, WebVid-style).
"""
import json
from typing import List

from mmaction.registry import DATASETS
from mmengine.dataset import BaseDataset

from mmstan.errors import UserError

from .unreadable_videos import UnreadableVideosMixin


def read_caption_annotation(path: str) -> dict:
    """``{video: [captions]}`` from either annotation format, with one-line errors."""
    with open(path) as f:
        try:
            ann = json.load(f)
        except json.JSONDecodeError as err:
            raise UserError(f'{path} is not valid JSON ({err}); convert the dataset with '
                            'tools/data/prepare_retrieval.py') from err
    if isinstance(ann, list):
        pairs: dict = {}
        for item in ann:
            if not isinstance(item, dict) or not {'video', 'caption'} <= set(item):
                raise UserError(f'{path}: list items need "video" and "caption" keys, '
                                f'got {item!r:.80}')
            pairs.setdefault(item['video'], []).append(item['caption'])
        ann = pairs
    if not isinstance(ann, dict):
        raise UserError(f'{path}: expected a JSON object or list')
    for video, captions in ann.items():
        if not captions:
            raise UserError(f'{path}: video {video} has no caption')
    return {v: [c] if isinstance(c, str) else list(c) for v, c in ann.items()}


class _CaptionAnnotations(BaseDataset):
    """Parses the caption annotation; see :class:`VideoCaptionDataset`."""

    def __init__(self, ann_file: str, concat_captions: bool = False,
                 data_prefix: dict = dict(video=''), **kwargs):
        self.concat_captions = concat_captions
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        prefix = self.data_prefix.get('video', '')
        data_list = []
        for video_id, (video, captions) in enumerate(read_caption_annotation(self.ann_file).items()):
            if self.concat_captions:
                captions = [' '.join(captions)]
            path = f'{prefix.rstrip("/")}/{video}' if prefix else video
            data_list += [dict(filename=path, text=c, video_id=video_id, start_index=0,
                               modality='RGB') for c in captions]
        return data_list


@DATASETS.register_module()
class VideoCaptionDataset(UnreadableVideosMixin, _CaptionAnnotations):
    """One sample per (video, caption) pair; unreadable videos are skipped with a warning.

    Args:
        ann_file: annotation JSON (see the module docstring).
        concat_captions: join all captions of a video into one paragraph (DiDeMo).
        data_prefix: ``dict(video=folder)``.
        **kwargs: mmengine ``BaseDataset`` arguments (pipeline, test_mode, ...) and
            ``check_videos`` (see :class:`UnreadableVideosMixin`).

    Each sample has ``filename``, ``text`` and ``video_id`` (the video's index, shared by
    its captions; the retrieval metric uses it to find every caption of a video).
    """
