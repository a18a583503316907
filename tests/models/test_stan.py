"""STAN branch and the CLIP-STAN backbone (issue: STAN backbone)."""
import pytest
import torch

from mmstan.models.backbones import (
    CLIPSTAN,
    STANBranch,
    TemporalAttention,
    TemporalConv,
    feeding_layers,
)


def tiny_l14():
    """ViT-L/14 geometry (24 layers, patch 14, 224 px) at a tiny width."""
    return dict(embed_dim=32, vision_cfg=dict(image_size=224, patch_size=14, width=32, layers=24,
                                              head_width=16, mlp_ratio=2.0),
                text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2, layers=1))


@pytest.mark.parametrize('arch,res,t,k,patch', [
    ('ViT-B-32', 224, 16, 4, 32),
    ('ViT-B-16', 224, 8, 4, 16),
    ('ViT-B-16', 256, 2, 6, 16),
])
def test_real_size_shapes(arch, res, t, k, patch):
    torch.manual_seed(0)
    model = CLIPSTAN(arch, input_resolution=res, num_frames=8, num_layers=k).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, t, res, res))
    assert out.shape == (1, t, 512)
    assert model.feeding == list(range(12 - k, 12))
    assert model.stan.spatial_pos.shape[0] == (res // patch) ** 2


@pytest.mark.parametrize('t', [1, 8, 16])
def test_l14_tiny_width_frame_counts(t):
    model = CLIPSTAN(tiny_l14(), num_frames=8, num_layers=4).eval()
    assert model.feeding == [20, 21, 22, 23]
    with torch.no_grad():
        assert model(torch.randn(2, 3, t, 224, 224)).shape == (2, t, 32)


def test_coca_tower():
    model = CLIPSTAN('coca_ViT-B-32', num_frames=4, num_layers=2).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 2, 224, 224))
    assert out.shape == (1, 2, 512)


def test_feeding_layers_range_and_interval():
    assert feeding_layers(12, 4) == [8, 9, 10, 11]
    assert feeding_layers(12, 4, interval=2) == [5, 7, 9, 11]  # paper: 6th, 8th, 10th, 12th
    assert feeding_layers(12, 4, last_layer=3) == [0, 1, 2, 3]  # Table 8 range 1-4
    with pytest.raises(ValueError, match='need more than 12'):
        feeding_layers(12, 7, interval=2)


@pytest.mark.parametrize('module', [TemporalAttention(64, 2), TemporalConv(64)])
def test_temporal_module_is_identity_at_init(module):
    x = torch.randn(2, 8, 16, 64)
    torch.testing.assert_close(module(x), x)


def test_conv_module_mixes_only_neighbouring_frames():
    torch.manual_seed(0)
    module = TemporalConv(64)
    torch.nn.init.normal_(module.up.weight)
    x = torch.randn(1, 8, 4, 64)
    y = x.clone()
    y[:, 0] += 1  # change frame 0
    diff = (module(y) - module(x)).abs().sum(dim=(0, 2, 3))
    assert diff[0] > 0 and diff[1] > 0 and torch.all(diff[2:] == 0)  # 3x1x1 kernel


def test_spatial_modules_start_as_their_clip_layers(tiny_arch):
    model = CLIPSTAN(tiny_arch, num_frames=8, num_layers=2)
    for layer, index in zip(model.stan.layers, model.feeding):
        clip_state = model.clip.blocks[index].state_dict()
        stan_state = layer.spatial.block.state_dict()
        assert clip_state.keys() == stan_state.keys()
        for key in clip_state:
            assert torch.equal(clip_state[key], stan_state[key]), key
        # a copy, not shared: training STAN must not move CLIP
        assert layer.spatial.block.ln_1.weight.data_ptr() != \
            model.clip.blocks[index].ln_1.weight.data_ptr()


@pytest.mark.parametrize('temporal', ['attention', 'conv'])
@pytest.mark.parametrize('preset', ['paper', 'official'])
def test_gradients_reach_every_stan_parameter(tiny_arch, temporal, preset):
    torch.manual_seed(0)
    model = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2, temporal_module=temporal,
                     preset=preset, drop_path_rate=0.0)
    with torch.no_grad():  # move zero-initialised projections off zero so grads flow through
        for module in model.stan.modules():
            if isinstance(module, TemporalAttention):
                module.proj.weight.normal_(std=0.02)
            if isinstance(module, TemporalConv):
                module.up.weight.normal_(std=0.02)
    model(torch.randn(2, 3, 4, 32, 32)).pow(2).sum().backward()
    for name, param in model.stan.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_spatial_first_order_leaves_top_temporal_module_without_gradient(tiny_arch):
    """Why both presets run the cross-frame module first (see stan.PRESETS)."""
    model = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2, order='spatial_temporal')
    top = model.stan.layers[-1].temporal
    top.proj.weight.data.normal_(std=0.02)
    model(torch.randn(1, 3, 4, 32, 32)).sum().backward()
    assert top.qkv.weight.grad is None or top.qkv.weight.grad.abs().sum() == 0
    feature_map = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2, order='spatial_temporal',
                           output='feature_map')
    top = feature_map.stan.layers[-1].temporal
    top.proj.weight.data.normal_(std=0.02)
    feature_map(torch.randn(1, 3, 4, 32, 32)).sum().backward()
    assert top.qkv.weight.grad.abs().sum() > 0


def test_frame_order_matters_but_mean_pool_would_not(tiny_arch):
    torch.manual_seed(0)
    model = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2).eval()
    with torch.no_grad():
        for module in model.stan.modules():
            if isinstance(module, TemporalAttention):
                module.proj.weight.normal_(std=0.2)
        video = torch.randn(1, 3, 4, 32, 32)
        forward = model(video).mean(1)
        backward = model(video.flip(2)).mean(1)
    assert not torch.allclose(forward, backward, atol=1e-4)


def test_presets_differ_where_paper_and_code_differ(tiny_arch):
    paper = CLIPSTAN(tiny_arch, num_layers=2)
    official = CLIPSTAN(tiny_arch, num_layers=2, preset='official')
    assert paper.stan.level_proj is not None and official.stan.level_proj is None
    assert paper.stan.layers[0].order == official.stan.layers[0].order == 'temporal_spatial'
    assert hasattr(official.stan, 'cls_embed') and not hasattr(paper.stan, 'cls_embed')
    # single choices override the preset
    mixed = CLIPSTAN(tiny_arch, num_layers=2, preset='official', level_proj=True)
    assert mixed.stan.level_proj is not None
    with pytest.raises(ValueError, match='preset'):
        CLIPSTAN(tiny_arch, preset='nope')


def test_level_projection_starts_as_identity(tiny_arch):
    model = CLIPSTAN(tiny_arch, num_layers=2)
    proj = model.stan.level_proj[0]
    x = torch.randn(3, 64)
    torch.testing.assert_close(proj(x), x)


def test_temporal_embedding_interpolates(tiny_arch):
    branch = CLIPSTAN(tiny_arch, num_frames=8, num_layers=2).stan
    assert branch.temporal_embedding(8) is branch.temporal_pos
    emb = branch.temporal_embedding(15)
    assert emb.shape == (15, 64)
    torch.testing.assert_close(emb[::2], branch.temporal_pos)  # 8 stored frames on the grid
    torch.testing.assert_close(branch.temporal_embedding(1)[0], branch.temporal_pos[0])


def test_feature_map_output(tiny_arch):
    model = CLIPSTAN(tiny_arch, num_layers=2, output='feature_map', input_resolution=48).eval()
    assert model(torch.randn(2, 3, 4, 48, 48)).shape == (2, 64, 4, 6, 6)


def test_gradient_checkpointing_gives_same_gradients(tiny_arch):
    torch.manual_seed(0)
    plain = CLIPSTAN(tiny_arch, num_layers=2, drop_path_rate=0.0)
    ckpt = CLIPSTAN(tiny_arch, num_layers=2, drop_path_rate=0.0, grad_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    video = torch.randn(2, 3, 4, 32, 32)
    for model in (plain, ckpt):
        model(video).sum().backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), ckpt.named_parameters()):
        if a.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_branch_rejects_wrong_level_count(tiny_arch):
    model = CLIPSTAN(tiny_arch, num_layers=2)
    assert isinstance(model.stan, STANBranch)
    with pytest.raises(AssertionError, match='levels'):
        model.stan([torch.randn(4, 17, 64)], 4)


def test_recognizer_with_text_head_trains_stan_only_on_video_side(tiny_arch):
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample

    model = MODELS.build(dict(
        type='Recognizer3D',
        backbone=dict(type='CLIPSTAN', arch=tiny_arch, num_layers=2, num_frames=4),
        cls_head=dict(type='TextClassHead', classes=['left', 'right'], arch=tiny_arch, topk=(1,),
                      average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor', format_shape='NCTHW')))
    video = torch.rand(2, 1, 3, 4, 32, 32) * 255
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    data = model.data_preprocessor(dict(inputs=list(video), data_samples=samples), training=True)
    loss = model(**data, mode='loss')['loss_cls']
    loss.backward()
    assert model.backbone.stan.temporal_pos.grad is not None
    preds = model(**model.data_preprocessor(dict(inputs=list(video), data_samples=samples)),
                  mode='predict')
    assert preds[0].pred_score.shape == (2,)


def _drop_pattern(out: torch.Tensor, candidates: dict) -> list:
    """Per video, the keep factors (key of ``candidates``) whose output it equals."""
    return [[key for key, cand in candidates.items() if torch.allclose(out[b], cand[b], atol=1e-5)]
            for b in range(out.shape[0])]


def test_intra_frame_drop_path_drops_both_branches_per_video():
    """Stochastic depth drops a residual branch per sample (video), as timm does: each
    video's output is one of the four (attention kept/dropped) x (MLP kept/dropped)
    outputs, the same for all its T frames (the attention branch used to be dropped per
    frame, B*T rows)."""
    from open_clip.transformer import ResidualAttentionBlock

    from mmstan.models.backbones.stan import IntraFrameBlock
    from mmstan.models.clip.blocks import attention_residual, mlp_residual

    torch.manual_seed(0)
    p, b, t, n, d = 0.5, 6, 8, 3, 32
    module = IntraFrameBlock(ResidualAttentionBlock(d, 2), drop_path=p).train()
    cls, patches = torch.randn(b, d), torch.randn(b, t, n, d)
    torch.manual_seed(1)
    out_cls, out_patches = module(cls, patches)
    out = torch.cat([out_cls[:, None], out_patches.reshape(b, t * n, d)], dim=1)

    def reference(attn_keep: float, mlp_keep: float) -> torch.Tensor:
        with torch.no_grad():
            x = torch.cat([cls[:, None, None].expand(b, t, 1, d), patches], dim=2).reshape(b * t, 1 + n, d)
            x = (x + attn_keep * attention_residual(module.block, x)).reshape(b, t, 1 + n, d)
            tokens = torch.cat([x[:, :, 0].mean(1, keepdim=True), x[:, :, 1:].reshape(b, t * n, d)], 1)
            return tokens + mlp_keep * mlp_residual(module.block, tokens)

    scale = 1 / (1 - p)
    candidates = {(a, m): reference(a, m) for a in (0.0, scale) for m in (0.0, scale)}
    pattern = _drop_pattern(out, candidates)
    assert all(len(keys) == 1 for keys in pattern), pattern
    assert {keys[0][0] for keys in pattern} == {0.0, scale}  # both drawn: not vacuous
    assert {keys[0][1] for keys in pattern} == {0.0, scale}


@pytest.mark.parametrize('module_type', ['attention', 'conv'])
def test_temporal_drop_path_drops_per_video(module_type):
    """The cross-frame branch is kept or dropped for a whole video, not per patch
    position (the attention folds B*L positions into its batch)."""
    from mmstan.models.backbones.stan import build_temporal

    torch.manual_seed(0)
    p, b = 0.5, 8
    module = build_temporal(module_type, 32, 2, p)
    for param in module.parameters():
        torch.nn.init.normal_(param, std=0.2)
    patches = torch.randn(b, 4, 5, 32)
    with torch.no_grad():
        branch = module.eval()(patches) - patches
        torch.manual_seed(1)
        out = module.train()(patches)
    candidates = {keep: patches + keep * branch for keep in (0.0, 1 / (1 - p))}
    pattern = _drop_pattern(out, candidates)
    assert all(len(keys) == 1 for keys in pattern), pattern
    assert {keys[0] for keys in pattern} == set(candidates)
