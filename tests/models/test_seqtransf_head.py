"""CLIP4Clip's seqTransf head: initialised from CLIP's text layers, checked against
open_clip's own text transformer; scored by the meanP head (MeanPHead).

seqTransf is not the identity at init (its layers are CLIP text layers, as in CLIP4Clip),
so the test checks the init against open_clip's output instead.
"""
import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS

from mmstan.errors import UserError
from mmstan.models.clip import CLIPText
from mmstan.models.clip.text import text_tower
from mmstan.models.heads import MeanPHead, SeqTransfHead


def _tiny_clip(tiny_arch, text_layers=4, embed_dim=None):
    arch = dict(tiny_arch, text_cfg=dict(tiny_arch['text_cfg'], layers=text_layers))
    if embed_dim is not None:
        arch['embed_dim'] = embed_dim
    torch.manual_seed(0)
    return open_clip.CLIP(**arch).eval()


def test_init_reproduces_open_clip_text_layers_then_residual(tiny_arch):
    tower = text_tower(_tiny_clip(tiny_arch, text_layers=4))
    head = SeqTransfHead(tower, num_layers=4).eval()
    frames = torch.randn(3, 12, 64)
    with torch.no_grad():
        # open_clip's own 4-layer text transformer, without its causal mask
        expected = tower.transformer(frames + tower.positional_embedding[:12], attn_mask=None) + frames
        got = head.encode_video(frames)
    torch.testing.assert_close(got, expected)


def test_copies_are_trainable_and_independent_of_a_frozen_text_tower(tiny_arch):
    clip = _tiny_clip(tiny_arch, text_layers=4)
    text = CLIPText(clip, frozen_layers=-1)
    head = SeqTransfHead(text.text, num_layers=2)
    assert all(p.requires_grad for p in head.parameters())
    assert not any(p.requires_grad for p in text.parameters())
    before = text.text.transformer.resblocks[0].mlp.c_fc.weight.clone()
    with torch.no_grad():
        head.transformer.blocks[0].mlp.c_fc.weight.add_(1.0)
        head.positions.add_(1.0)
    assert torch.equal(text.text.transformer.resblocks[0].mlp.c_fc.weight, before)
    assert not any(n.startswith('text') for n, _ in head.named_parameters())  # nothing kept


def test_scores_are_clip4clip_mean_pooling_of_the_new_frames(tiny_arch):
    head = SeqTransfHead(text_tower(_tiny_clip(tiny_arch)), num_layers=4).eval()
    frames, pooled = torch.randn(5, 6, 64), torch.randn(4, 64)
    tokens, mask = torch.randn(4, 7, 64), torch.ones(4, 7, dtype=torch.bool)
    with torch.no_grad():
        video = head.encode_video(frames)
        scores = head(tokens, mask, pooled, video)
        # CLIP4Clip: per-frame L2, mean over frames, L2, cosine with the text [EOT] embedding
        v = F.normalize(F.normalize(video, dim=-1).mean(1), dim=-1)
        torch.testing.assert_close(scores, F.normalize(pooled, dim=-1) @ v.T)
        torch.testing.assert_close(head.gallery(tokens, mask, pooled, video), scores)
    assert isinstance(head.similarity, MeanPHead) and head.mode == 'MeanPHead'


def test_more_layers_than_the_text_tower_has(tiny_arch):
    tower = text_tower(_tiny_clip(tiny_arch, text_layers=2))
    head = SeqTransfHead(tower, num_layers=4)
    blocks = head.transformer.blocks
    assert len(blocks) == 4
    for i in (0, 1):  # copied
        assert torch.equal(blocks[i].attn.in_proj_weight, tower.transformer.resblocks[i].attn.in_proj_weight)
    for i in (2, 3):  # re-initialised, not copies of the last text layer
        assert not torch.equal(blocks[i].attn.in_proj_weight,
                               tower.transformer.resblocks[1].attn.in_proj_weight)
        assert not torch.equal(blocks[i].mlp.c_fc.weight, tower.transformer.resblocks[1].mlp.c_fc.weight)


def test_text_width_must_equal_the_joint_width(tiny_arch):
    tower = text_tower(_tiny_clip(tiny_arch, embed_dim=32))  # text width 64, joint 32
    with pytest.raises(UserError, match='SeqTransfHead: the CLIP text layers are 64 wide'):
        SeqTransfHead(tower)


def test_too_many_frames(tiny_arch):
    head = SeqTransfHead(text_tower(_tiny_clip(tiny_arch)), num_layers=1)
    with pytest.raises(ValueError, match='32 frame positions, got 33 frames'):
        head.encode_video(torch.randn(1, 33, 64))


def test_in_the_retriever(tiny_arch):
    model = MODELS.build(dict(type='VideoTextRetriever', clip=dict(arch=tiny_arch),
                              backbone=dict(type='CLIPMeanPool'),
                              head=dict(type='SeqTransfHead', num_layers=2)))
    text_blocks = model.text_encoder.text.transformer.resblocks
    assert torch.equal(model.head.transformer.blocks[1].mlp.c_proj.weight, text_blocks[1].mlp.c_proj.weight)
    video = torch.randn(3, 1, 3, 4, 32, 32)
    text = torch.zeros(3, 6, dtype=torch.long)
    text[:, 0], text[:, 1], text[:, 2] = 49406, torch.tensor([320, 1929, 530]), 49407
    with torch.no_grad():
        feats = model.encode_video(video)
        frames = model.backbone(video[:, 0])
        torch.testing.assert_close(feats, model.head.encode_video(frames))  # encoded once per video
        torch.testing.assert_close(model.score(model.encode_text(text), feats),
                                   model(dict(imgs=video, text=text), mode='tensor'))
    losses = model(dict(imgs=video, text=text), mode='loss')
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.head.parameters())
