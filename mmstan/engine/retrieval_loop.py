"""Test-time text-video retrieval: each video decoded and encoded once, each caption once.

``VideoTextRetrievalValLoop`` / ``VideoTextRetrievalTestLoop`` replace mmengine's
``ValLoop`` / ``TestLoop`` for a ``VideoTextRetriever`` on a per-video
``VideoCaptionDataset`` (the test layout):

1. Videos: the loop's dataloader (its sampler shards the videos across ranks) decodes
   each video once and the model encodes it once (``test_step`` -> ``[B, T, E]`` frames);
   every rank's frames are gathered, so each rank holds the whole gallery ``[N, T, E]``.
2. Captions: the dataset's captions (several per video, one, or a paragraph) are split
   across ranks, tokenized by its ``caption_pipeline``, encoded once, and each batch is
   scored at once against the whole gallery by the model's own head
   (``VideoTextRetriever.score``, bounded memory); only the ``[b, N]`` score rows are kept.
3. The score rows (and those of QB-Norm's query bank, if the dataset has one) go to the
   evaluator (``TextVideoRetrievalMetric``), which collects them from all ranks and ranks
   the ``[captions, videos]`` matrix against the annotation's ground truth. The loop tells
   the metric the dataset's numbers of captions, videos and query-bank captions
   (``expect_totals``), and hands over each caption's row once (never the padding of the
   distributed split), so that the metric can check that every one arrived exactly once.

mmaction2 1.2's ``RetrievalValLoop`` / ``RetrievalTestLoop`` (VindLU) follow the same
idea with one item per video carrying its caption list; here captions are a separate,
evenly split stream, so a video with 40 captions costs no more than one with 1.
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
from mmaction.registry import LOOPS
from mmengine.dataset import pseudo_collate
from mmengine.dist import all_gather_object, get_rank, get_world_size, is_main_process
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop, autocast
from mmengine.utils import ProgressBar
from torch import Tensor
from torch.utils.data import DataLoader

from mmstan.errors import UserError


def shard(n: int, rank: int, world_size: int) -> List[int]:
    """Indices of ``n`` items that ``rank`` handles: ``rank, rank + world_size, ...``,
    wrapped around to ``ceil(n / world_size)`` items so every rank has as many (the
    duplicates are dropped by the metric)."""
    if n == 0:
        return []
    return [(rank + world_size * i) % n for i in range(math.ceil(n / world_size))]


class _EncodeOnceRetrieval:
    """The run shared by the val and test loops (``stage`` names their hooks).

    Args (besides ``ValLoop`` / ``TestLoop``'s ``runner``, ``dataloader``, ``evaluator``,
    ``fp16``):
        text_batch_size: captions tokenized, encoded and scored per step.
        text_num_workers: dataloader workers that tokenize captions.
    """

    stage = 'test'

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False,
                 text_batch_size: int = 256, text_num_workers: int = 0):
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        self.text_batch_size = text_batch_size
        self.text_num_workers = text_num_workers

    @property
    def _model(self):
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def _step(self, data_batch) -> Dict[str, Tensor]:
        with autocast(enabled=self.fp16):
            if self.stage == 'val':
                return self.runner.model.val_step(data_batch)
            return self.runner.model.test_step(data_batch)

    def run(self) -> dict:
        stage = self.stage
        self.runner.call_hook(f'before_{stage}')
        self.runner.call_hook(f'before_{stage}_epoch')
        self.runner.model.eval()
        dataset = self.dataloader.dataset
        if not getattr(dataset, 'per_video', False):
            raise UserError(f'{type(self).__name__} needs a per-video VideoCaptionDataset (test_mode=True) '
                            f'as its dataset, got {type(dataset).__name__}')
        with torch.no_grad():
            gallery = self.encode_gallery()
            captions, videos = dataset.caption_list()
            bank = dataset.query_bank_captions()
            for metric in self.evaluator.metrics:  # what the metric must receive, each once
                expect = getattr(metric, 'expect_totals', None)
                if expect is not None:
                    expect(captions=len(captions), videos=len(gallery), bank=len(bank))
            print_log(f'retrieval: {len(gallery)} videos encoded once each; scoring {len(captions)} '
                      f'captions against them ({get_world_size()} process(es))', logger='current')
            size = self.score_captions(dataset.caption_dataset(captions), gallery, videos)
            if bank:
                print_log(f'retrieval: scoring {len(bank)} query-bank captions (QB-Norm)',
                          logger='current')
                size += self.score_captions(dataset.caption_dataset(bank), gallery, None)
        metrics = self.evaluator.evaluate(size)
        self.runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{stage}')
        return metrics

    def encode_gallery(self) -> Tensor:
        """Every video's frame features ``[N, T, E]`` (row i = the dataset's video i) on the
        model's device: this rank encodes the videos its sampler gives it, once each, and
        the ranks exchange their features."""
        index: List[int] = []
        frames: List[Tensor] = []
        device = None
        for idx, data_batch in enumerate(self.dataloader):
            self.runner.call_hook(f'before_{self.stage}_iter', batch_idx=idx, data_batch=data_batch)
            feats = self._step(data_batch)
            ids = [sample.metainfo.get('video_id') for sample in data_batch['data_samples']]
            if None in ids:
                raise UserError("retrieval: the test pipeline's PackActionInputs must keep 'video_id' "
                                'in meta_keys (the video index of each sample)')
            index += ids
            frames.append(feats['frames'].cpu())
            device = feats['frames'].device
            self.runner.call_hook(f'after_{self.stage}_iter', batch_idx=idx, data_batch=data_batch,
                                  outputs=feats)
        local = (torch.tensor(index, dtype=torch.long), torch.cat(frames)) if frames else None
        parts = all_gather_object(local) if get_world_size() > 1 else [local]
        parts = [p for p in parts if p is not None]
        num_videos = len(self.dataloader.dataset)
        gallery = parts[0][1].new_zeros(num_videos, *parts[0][1].shape[1:])
        seen = torch.zeros(num_videos, dtype=torch.bool)
        for ids, feats in parts:
            gallery[ids] = feats
            seen[ids] = True
        if not seen.all():
            raise UserError(f'retrieval: the sampler left out {int((~seen).sum())} test videos; use '
                            "sampler=dict(type='DefaultSampler', shuffle=False) for the test dataloader")
        return gallery.to(device if device is not None else 'cpu')

    def score_captions(self, captions, gallery: Tensor, videos: Optional[Sequence[int]]) -> int:
        """Tokenize, encode and score this rank's share of ``captions`` (a dataset of
        captions, see ``VideoCaptionDataset.caption_dataset``) against the whole gallery,
        and hand the score rows to the evaluator: test captions (``videos`` = the video of
        each) or QB-Norm's query bank (``videos=None``). Returns the number of blocks all
        ranks handed over together (for ``evaluator.evaluate``).

        Every rank scores as many batches (the last ranks' shares padded with repeats, see
        :func:`shard`) so that the ranks' blocks pair up when collected, but the padding's
        rows are left out of the blocks: each caption reaches the evaluator once."""
        rank, world_size = get_rank(), get_world_size()
        mine = shard(len(captions), rank, world_size)
        own = [rank + world_size * i < len(captions) for i in range(len(mine))]  # False: padding
        starts = range(0, len(mine), self.text_batch_size)
        batches = [mine[i:i + self.text_batch_size] for i in starts]
        loader = DataLoader(captions, batch_sampler=batches, collate_fn=pseudo_collate,
                            num_workers=self.text_num_workers)
        progress = ProgressBar(len(batches)) if is_main_process() and len(batches) > 1 else None
        for start, ids, data_batch in zip(starts, batches, loader):
            feats = self._step(data_batch)
            with autocast(enabled=self.fp16):
                scores = self._model.score((feats['pooled'], feats['tokens'], feats['mask']), gallery)
            keep = torch.tensor(own[start:start + len(ids)], dtype=torch.bool)
            ids = torch.tensor(ids, dtype=torch.long)[keep]
            block = dict(scores=scores.float().cpu()[keep])
            if videos is None:
                block['bank_index'] = ids
            else:
                block['caption_index'] = ids
                block['video_index'] = torch.tensor([videos[i] for i in ids.tolist()], dtype=torch.long)
            self.evaluator.process([block], None)
            if progress is not None:
                progress.update()
        if progress is not None:
            print()  # end the progress bar's line
        return len(batches) * get_world_size()


@LOOPS.register_module()
class VideoTextRetrievalValLoop(_EncodeOnceRetrieval, ValLoop):
    """Validation during training (``val_cfg``); see the module docstring."""

    stage = 'val'


@LOOPS.register_module()
class VideoTextRetrievalTestLoop(_EncodeOnceRetrieval, TestLoop):
    """``tools/test.py`` / ``tools/dist_test.sh`` (``test_cfg``); see the module docstring."""

    stage = 'test'
