"""Helpers of the search tests: the demo retrieval config's model (random-initialised tiny
CLIP, CLIPSTAN, Mug head) saved as a checkpoint, and a search model loaded from one."""
import os.path as osp

import torch

from conftest import ROOT

CONFIG = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')


def save_tiny_checkpoint(path: str, seed: int = 0) -> str:
    """The demo config's model, random init, as a ``{'state_dict': ...}`` checkpoint
    like tools/train.py writes."""
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def load_search_model(checkpoint: str):
    from mmengine.config import Config

    from mmstan.search import SearchModel

    return SearchModel.from_config(Config.fromfile(CONFIG), checkpoint, 'cpu')
