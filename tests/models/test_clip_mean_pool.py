"""The CLIP frame-embedding backbone and the linear head."""
import pytest
import torch

from mmstan.models.backbones import CLIPMeanPool
from mmstan.models.clip import CLIPVision, load_clip, resample_pos_embed
from mmstan.models.heads import VideoLinearHead


def test_backbone_shapes_match_clip_image_encoder(tiny_arch):
    torch.manual_seed(0)
    backbone = CLIPMeanPool(arch=tiny_arch).eval()
    video = torch.randn(2, 3, 5, 32, 32)
    out = backbone(video)
    assert out.shape == (2, 5, 64)
    # each frame embedding equals open_clip's own image encoder on that frame
    frame = video[1, :, 3]
    expected = backbone.clip.visual(frame[None])[0]
    torch.testing.assert_close(out[1, 3], expected, atol=1e-5, rtol=1e-5)


def test_collect_returns_requested_layers(tiny_arch):
    vision = CLIPVision(load_clip(tiny_arch)).eval()
    last, (first, again) = vision(torch.randn(3, 3, 32, 32), collect=[0, -1])
    assert first.shape == last.shape == (3, 17, 64)
    torch.testing.assert_close(again, last)


def test_input_resolution_resamples_position_embedding(tiny_arch):
    vision = CLIPVision(load_clip(tiny_arch), input_resolution=48)
    assert vision.visual.positional_embedding.shape == (1 + 36, 64)
    last, _ = vision(torch.randn(1, 3, 48, 48))
    assert last.shape == (1, 37, 64)
    with pytest.raises(AssertionError, match='input_resolution'):
        vision(torch.randn(1, 3, 32, 32))


def test_resample_keeps_identity_and_cls():
    pos = torch.randn(1 + 16, 8)
    assert resample_pos_embed(pos, (4, 4)) is pos
    up = resample_pos_embed(pos, (8, 8))
    torch.testing.assert_close(up[0], pos[0])
    assert up.shape == (65, 8)


def test_arch_name_selects_the_tower():
    """The official code silently built B/32 whatever was asked (its issue #16)."""
    for name, patch, width in [('ViT-B-32', 32, 768), ('ViT-B-16', 16, 768)]:
        vision = CLIPVision(load_clip(name))
        assert vision.patch_size == patch and vision.width == width
        assert vision.visual.positional_embedding.shape[0] == 1 + (224 // patch) ** 2


def test_linear_head_pools_frames(tiny_arch):
    head = VideoLinearHead(num_classes=4, in_channels=64, topk=(1,))
    head.init_weights()
    frames = torch.randn(2, 8, 64)
    torch.testing.assert_close(head(frames), head(frames.mean(1)))
    assert head(frames).shape == (2, 4)
