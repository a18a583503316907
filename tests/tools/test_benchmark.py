"""mmstan.analysis.benchmark (tools/analysis/benchmark.py): leaves the caller's config
alone and times retrieval models (video + text input) as well as recognizers."""
import copy
import os.path as osp

import torch
from mmengine.config import Config

from conftest import ROOT
from mmstan.analysis import build_video_model, count_flops
from mmstan.analysis.benchmark import benchmark, caption_tokens

RETRIEVAL = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')


def small_retrieval_cfg() -> Config:
    cfg = Config.fromfile(RETRIEVAL)
    cfg.merge_from_dict({'model.backbone.num_frames': 2,
                         'test_dataloader.dataset.pipeline.1.clip_len': 2})
    return cfg


def test_benchmark_leaves_the_config_untouched_and_times_retrieval():
    cfg = small_retrieval_cfg()
    # weights that would need a download: the benchmark must null them on its own copy
    cfg.merge_from_dict({'model.backbone.pretrained': 'openai', 'model.clip.pretrained': 'openai'})
    before = copy.deepcopy(cfg.to_dict())
    measured = benchmark(cfg, repeats=1, backward=True)
    assert cfg.to_dict() == before
    assert measured['shape'] == (3, 2, 32, 32)
    stan, base = measured['results']['STAN'], measured['results']['mean pooling']
    for result in (stan, base):
        assert result['forward'] > 0 and result['forward_backward'] > 0
    assert stan['macs'] > base['macs']


def test_retrieval_cost_includes_the_text_tower():
    """The retrieval MACs are the video tower's plus the text tower's (plus the head):
    more than the video tower alone, measured with the same counter on the same model."""
    cfg = small_retrieval_cfg()
    text = caption_tokens(cfg)
    assert text.shape == (1, cfg.context_length)
    model = build_video_model(copy.deepcopy(cfg))
    video = torch.randn(1, 3, 2, 32, 32)
    whole = count_flops(lambda v: model(dict(imgs=v, text=text), mode='tensor'), video)
    video_only = count_flops(model.backbone, video)
    text_only = count_flops(lambda t: model.encode_text(t)[0], text)
    assert whole >= video_only + text_only > video_only
    measured = benchmark(cfg, repeats=1)
    assert measured['results']['STAN']['macs'] == whole
