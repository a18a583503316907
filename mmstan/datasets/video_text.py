"""Video-text datasets for retrieval (MSR-VTT, DiDeMo, LSMDC, MSVD) and post-pretraining
(WebVid-style lists), in one annotation format that ``tools/data/prepare_retrieval.py`` converts
each dataset's public files into:

- ``{"video.mp4": ["caption", ...], ...}`` (a JSON object), or
- ``[{"video": "video.mp4", "caption": "..."}, ...]`` (a JSON list, WebVid-style).
"""
import json
import os.path as osp
from typing import Iterable, List, Optional, Tuple

from mmaction.registry import DATASETS
from mmengine.dataset import BaseDataset

from mmstan.errors import UserError
from mmstan.utils.paths import require_file

from .caption_list import CaptionListDataset
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
                 data_prefix: dict = dict(video=''), per_video: Optional[bool] = None,
                 caption_pipeline: Optional[List] = None, query_bank: Optional[dict] = None,
                 **kwargs):
        self.concat_captions = concat_captions
        self.per_video = kwargs.get('test_mode', False) if per_video is None else per_video
        self.caption_pipeline = caption_pipeline
        self.query_bank = query_bank
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def _captions_of(self, captions: List[str]) -> List[str]:
        return [' '.join(captions)] if self.concat_captions else captions

    def videos_and_captions(self) -> Iterable[Tuple[dict, List[str]]]:
        """``(video fields, captions)`` per video: here ``dict(filename=path)`` from the
        annotation JSON (subclasses read other stores)."""
        prefix = self.data_prefix.get('video', '')
        for video, captions in read_caption_annotation(self.ann_file).items():
            yield dict(filename=f'{prefix.rstrip("/")}/{video}' if prefix else video), captions

    def load_data_list(self) -> List[dict]:
        data_list = []
        for video_id, (video, captions) in enumerate(self.videos_and_captions()):
            captions = self._captions_of(captions)
            if self.per_video:
                data_list.append(dict(video, captions=captions, start_index=0, modality='RGB'))
            else:
                data_list += [dict(video, text=c, video_id=video_id, start_index=0,
                                   modality='RGB') for c in captions]
        return data_list


@DATASETS.register_module()
class VideoCaptionDataset(UnreadableVideosMixin, _CaptionAnnotations):
    """Videos and their captions, in one of two layouts.

    - Pairs (training, ``per_video=False``): one sample per (video, caption) pair, with
      ``filename``, ``text`` and ``video_id`` (the video's index in the annotation, shared
      by its captions).
    - Per video (testing, ``per_video=True``, the default when ``test_mode``): one sample
      per video, with ``filename``, ``captions`` and ``video_id`` = the sample's index
      (its column in the score matrix). The pipeline decodes the video only; the
      captions are tokenized apart, once each, by ``caption_pipeline``
      (:meth:`caption_dataset`), so a test video is decoded and encoded once however
      many captions it has. Unreadable videos are dropped with their captions.

    Args:
        ann_file: annotation JSON (see the module docstring).
        concat_captions: join all captions of a video into one paragraph (DiDeMo).
        data_prefix: ``dict(video=folder)``.
        per_video: the layout (default: per video in ``test_mode``, else pairs).
        caption_pipeline: transforms for one caption in the per-video layout, e.g.
            ``[dict(type='OpenCLIPTokenize', context_length=32),
            dict(type='PackActionInputs', collect_keys=('text',))]``.
        query_bank: QB-Norm's query bank, ``dict(ann_file=..., max_captions=None)``: the
            captions of another annotation file (the training split; ``ann_file`` is
            relative to ``data_root``), at most ``max_captions`` of them, evenly spaced.
        **kwargs: mmengine ``BaseDataset`` arguments (pipeline, test_mode, ...) and
            ``check_videos`` (see :class:`UnreadableVideosMixin`).

    Ground truth of the per-video layout (:meth:`caption_list`): several captions per
    video (MSVD, MSR-VTT full), one (MSR-VTT 1k-A, LSMDC) or one paragraph (DiDeMo,
    ``concat_captions``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.per_video:
            steps = [type(t).__name__ for t in self.pipeline.transforms]
            if 'OpenCLIPTokenize' in steps:
                raise UserError(f'{self.ann_file}: a per-video (test) VideoCaptionDataset decodes '
                                'videos only; move OpenCLIPTokenize from `pipeline` to '
                                '`caption_pipeline` in the config')

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if self.per_video:
            info['video_id'] = info['sample_idx']
        return info

    def caption_list(self) -> Tuple[List[str], List[int]]:
        """Per-video layout: every caption and the index of its video (its ground truth)."""
        self._require_per_video('caption_list')
        captions, videos = [], []
        for idx in range(len(self)):
            own = self.get_data_info(idx)['captions']
            captions += own
            videos += [idx] * len(own)
        return captions, videos

    def caption_dataset(self, captions: List[str]) -> CaptionListDataset:
        """``captions`` as a dataset whose items go through ``caption_pipeline``."""
        self._require_per_video('caption_dataset')
        if not self.caption_pipeline:
            raise UserError(f'{self.ann_file}: a per-video (test) VideoCaptionDataset needs '
                            '`caption_pipeline` (e.g. OpenCLIPTokenize + PackActionInputs with '
                            "collect_keys=('text',)) in the config")
        return CaptionListDataset(captions, self.caption_pipeline)

    def query_bank_captions(self) -> List[str]:
        """QB-Norm's query bank (see ``query_bank``), or ``[]`` when none is set."""
        if not self.query_bank:
            return []
        bank = dict(self.query_bank)
        unknown = set(bank) - {'ann_file', 'max_captions'}
        if unknown or 'ann_file' not in bank:
            raise UserError(f'query_bank takes ann_file and max_captions, got {sorted(self.query_bank)}')
        path = bank['ann_file']
        if not osp.isabs(path) and self.data_root:
            path = osp.join(self.data_root, path)
        require_file(path, 'query bank annotation file',
                     'fix `query_bank.ann_file` of the test dataset (relative to data_root)')
        captions = [c for caps in read_caption_annotation(path).values() for c in self._captions_of(caps)]
        limit = bank.get('max_captions')
        if limit and len(captions) > limit:
            step = len(captions) / limit
            captions = [captions[int(i * step)] for i in range(limit)]
        return captions

    def _require_per_video(self, what: str) -> None:
        if not self.per_video:
            raise ValueError(f'{what} needs the per-video layout (per_video=True or test_mode)')
