"""Issue 16, defect 4: random-init Mug training collapsed on some seeds (seed 0 of the demo
retriever: loss 2 ln B from about step 16 on). CLIP's text transformer is causal, so the
[SOT] output is the same vector for every caption. Mug's token softmax at tau = 100 is
nearly hard, and the first steps moved it onto [SOT] for every pair. The scores then no
longer depended on the caption, and the words, which had about zero weight, got no
gradient. The demo's head leaves [SOT] out (``MugHead(drop_sot=True)``)."""
import os.path as osp

import numpy as np
import open_clip
import torch
import torch.nn.functional as F

from conftest import ROOT
from mmstan.datasets.synthetic import captions_for, make_clip

DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
MEAN = torch.tensor([122.771, 116.746, 104.093]).view(1, 1, 3, 1, 1, 1)
STD = torch.tensor([68.5, 66.632, 70.323]).view(1, 1, 3, 1, 1, 1)


def demo_model(seed: int = 0):
    """The demo config's retriever, random init as the Runner makes it for ``seed``."""
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import set_random_seed

    init_default_scope('mmaction')
    set_random_seed(seed)
    return MODELS.build(Config.fromfile(DEMO).model)


def motion_batch(rng: np.random.Generator, size: int):
    """``size`` synthetic motion clips (normalised as the preprocessor does) and one
    caption of each, tokenized as the demo's pipeline does."""
    clips, captions = [], []
    for _ in range(size):
        label = int(rng.integers(4))
        clip, shape, color = make_clip(rng, label, 32, 8, 4.0)
        clips.append(clip[..., ::-1])   # BGR -> RGB
        captions.append(captions_for(shape, color, label)[int(rng.integers(3))])
    imgs = torch.from_numpy(np.stack(clips)).float().permute(0, 4, 1, 2, 3)[:, None]
    return (imgs - MEAN) / STD, open_clip.tokenize(captions, context_length=16)


def text_dependence(scores: torch.Tensor) -> float:
    """Std of a video's scores across the captions, averaged over the videos: 0 when the
    score matrix no longer depends on the text."""
    return scores.std(dim=0).mean().item()


def test_sot_output_is_caption_independent_and_the_demo_head_ignores_it():
    torch.set_num_threads(1)
    model = demo_model().eval()
    text = open_clip.tokenize(['a red square moving left', 'the circle moves up',
                               'green circle going down'], context_length=16)
    with torch.no_grad():
        _, tokens, mask = model.encode_text(text)
        # the tensor that is constant: position 0 under the causal mask, whatever the caption
        assert mask[:, 0].all() and (tokens[1:, 0] - tokens[0, 0]).abs().max() < 1e-5
        assert (tokens[1:, 1] - tokens[0, 1]).abs().max() > 1e-2   # the words are not
        # videos whose every frame is nearest to [SOT]: the state the collapse ended in
        g = torch.Generator().manual_seed(0)
        frames = F.normalize(tokens[0, 0], dim=-1) + 0.05 * torch.randn(4, 8, 64, generator=g)
        assert text_dependence(model.head(tokens, mask, None, frames)) > 1e-2
        official = type(model.head)('mug', tau=model.head.tau)   # [SOT] in the token set
        assert text_dependence(official(tokens, mask, None, frames)) < 1e-6


def test_demo_retriever_first_steps_keep_the_scores_text_dependent():
    """Seed 0 of the demo retriever, eight AdamW steps as its recipe starts them (lr 1e-4 =
    0.1 x 1e-3 at the start of the warmup, clip 5, batch 32, fresh clips every step).
    With [SOT] in Mug's token set the std across captions fell from 0.1 to below 2e-3
    by step 4 (loss 2 ln 32, gradient norm 3); without it, it stays above 1e-2."""
    torch.set_num_threads(1)
    model = demo_model(seed=0).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98),
                                  weight_decay=0.02)
    captured = {}
    model.head.register_forward_hook(lambda module, args, out: captured.update(scores=out.detach()))
    rng = np.random.default_rng(0)
    dependence = []
    for _ in range(8):
        imgs, text = motion_batch(rng, 32)
        losses = model(dict(imgs=imgs, text=text), mode='loss')
        optimizer.zero_grad()
        (losses['loss_t2v'] + losses['loss_v2t']).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        dependence.append(text_dependence(captured['scores']))
    assert dependence[0] > 5e-2, dependence
    assert min(dependence[4:]) > 5e-3, dependence
