"""Action recognition with a model from :func:`~mmstan.apis.init_model`::

    model = init_model('configs/stan/k400.py', 'stan_k400.pth')
    scores = recognize(model, 'demo.mp4')                  # [num_classes]
"""
import os

import torch
from mmengine.dataset import pseudo_collate
from torch import Tensor, nn

from mmstan.apis.pipelines import inference_pipeline
from mmstan.apis.retrieval import build_pipeline
from mmstan.errors import UserError
from mmstan.utils.paths import require_file


@torch.no_grad()
def recognize(model: nn.Module, video: str) -> Tensor:
    """Class scores ``[num_classes]`` of one video file: the config's test pipeline (its
    frames, crops and views), then the model's ``test_step`` (views averaged as the
    config's head says), as ``tools/test.py`` scores a test set."""
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise UserError(f'this {type(model).__name__} has no `cfg`: build it with mmstan.apis.init_model')
    pipeline = build_pipeline(cfg, inference_pipeline(cfg))
    require_file(os.fspath(video), 'video', 'give a video file (mp4, avi, webm, ...)')
    sample = pipeline(dict(filename=os.fspath(video), label=-1, start_index=0, modality='RGB'))
    return model.test_step(pseudo_collate([sample]))[0].pred_score.float().cpu()
