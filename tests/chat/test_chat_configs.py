"""configs/chat/*.yaml (tests/test_configs.py covers the .py model configs): each loads,
its keys are the demo's and the video tower's, and its video fits LLaVA-1.5's context."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT
from mmstan.chat.token_budget import LLAVA15_CONTEXT, LLAVA15_GRID, video_tokens

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'chat', '*.yaml')))
KEYS = {'llava', 'checkpoint', 'num_frames', 'tower', 'branch', 'prompt', 'max_new_tokens', 'gpu_dtype'}


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_chat_config_has_the_demos_keys_and_fits_the_context(path):
    pytest.importorskip('transformers')
    from mmstan.chat.llava import build_video_tower
    from mmstan.chat.tiny import tiny_llava, tiny_mugstan_state

    first = open(path, encoding='utf-8').readline()
    assert first.startswith('# STAN-LLaVA') and 'no paper row' in first
    cfg = Config.fromfile(path)
    assert set(cfg) == KEYS
    assert cfg.prompt.count('<image>') == 1 and '{question}' in cfg.prompt
    tower = cfg.tower.to_dict()
    n = video_tokens(cfg.num_frames, LLAVA15_GRID, tower['spatial_pool'], tower['temporal_pool'])
    assert n + cfg.max_new_tokens < LLAVA15_CONTEXT
    # the tower and branch keys are build_video_tower's (on the tiny model, 4 frames)
    built = build_video_tower(tiny_llava()[0], tiny_mugstan_state(), branch_options=dict(cfg.branch),
                              **{k: v for k, v in tower.items() if v is not None})
    assert built.spatial_pool == tower['spatial_pool'] and built.use_branch == tower['use_branch']
