"""Fixtures the search tests import: the demo retrieval config's model (random-initialised
tiny CLIP) saved as a checkpoint, and a search model loaded from it."""
import os.path as osp

import pytest
import torch

from conftest import ROOT

CONFIG = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')


def save_tiny_checkpoint(path: str, seed: int = 0) -> str:
    """The demo config's model (tiny CLIP, CLIPSTAN, Mug head), random init, as a
    ``{'state_dict': ...}`` checkpoint like tools/train.py writes."""
    from mmaction.registry import MODELS
    from mmengine.config import Config

    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory):
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    return save_tiny_checkpoint(str(tmp_path_factory.mktemp('search_ckpt') / 'tiny.pth'))


@pytest.fixture(scope='session')
def search_model(tiny_checkpoint):
    from mmengine.config import Config

    from mmstan.search import SearchModel

    return SearchModel.from_config(Config.fromfile(CONFIG), tiny_checkpoint, 'cpu')
