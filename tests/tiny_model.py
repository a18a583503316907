"""Helpers of the search tests: the demo retrieval config's model (random-initialised tiny
CLIP, CLIPSTAN, Mug head, or another head) saved as a checkpoint, and a search model
loaded from one."""
import os.path as osp
from typing import Optional

import torch

from conftest import ROOT

CONFIG = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')

#: Heads of the baselines, sized for the tiny CLIP (2 text layers).
HEADS = dict(
    clip2video=dict(type='CLIP2VideoHead', num_layers=2, num_centers=3),
    seqtransf=dict(type='SeqTransfHead', num_layers=2),
)


def tiny_config(head: Optional[dict] = None):
    """The demo config, with ``head`` in place of its Mug head when given."""
    from mmengine.config import Config

    cfg = Config.fromfile(CONFIG)
    if head is not None:
        cfg.model.head = dict(head)
    return cfg


def save_tiny_checkpoint(path: str, seed: int = 0, head: Optional[dict] = None) -> str:
    """The demo config's model (with ``head``), random init, as a ``{'state_dict': ...}``
    checkpoint like tools/train.py writes."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    torch.manual_seed(seed)
    model = MODELS.build(tiny_config(head).model)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def load_search_model(checkpoint: str, head: Optional[dict] = None):
    from mmstan.search import SearchModel

    return SearchModel.from_config(tiny_config(head), checkpoint, 'cpu')
