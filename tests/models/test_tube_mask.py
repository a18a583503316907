"""Tube masking (TVTSv2 §3.3): the same patch positions dropped in every frame of a clip,
drawn per clip, removed from the sequence (not zeroed).

The reference for "removed" is the unmasked model in which no token can see a dropped
one: open_clip's own blocks and STAN's intra-frame attention run on the full sequence
with the dropped positions masked out as attention keys, and the kept positions are
gathered afterwards. Token removal must give exactly that (attention is the only place
where tokens meet; STAN's cross-frame module works per position).
"""
import re
from unittest import mock

import pytest
import torch

from conftest import run_tool
from mmstan.analysis import count_flops
from mmstan.models.backbones import CLIPSTAN
from mmstan.models.backbones import stan as stan_module
from mmstan.models.clip import CLIPVision, load_clip
from mmstan.models.clip.tube_mask import gather_positions, num_kept, tube_keep_indices

L = 16  # patches per frame of the tiny CLIP (32 px, patch 8)


def _key_mask(keep: torch.Tensor, length: int) -> torch.Tensor:
    """``[1+L, 1+L]`` additive attention mask: -inf on the columns (keys) of the patch
    positions not in ``keep``; [CLS] (column 0) always visible."""
    visible = torch.zeros(1 + length, dtype=torch.bool)
    visible[0] = True
    visible[1 + keep] = True
    mask = torch.zeros(1 + length, 1 + length)
    mask[:, ~visible] = float('-inf')
    return mask


def _open_clip_levels(visual, frames: torch.Tensor, mask: torch.Tensor):
    """Every block's output ``[N, 1+L, D]`` from open_clip's own blocks on the full
    sequence with ``mask``; the embedded tokens are what open_clip feeds its first block."""
    captured = []
    hook = visual.transformer.resblocks[0].register_forward_pre_hook(
        lambda module, args: captured.append(args[0]))
    visual(frames)
    hook.remove()
    x, levels = captured[0], []
    for block in visual.transformer.resblocks:
        x = block(x, attn_mask=mask)
        levels.append(x)
    return levels


def _randomise_identity_parts(model: CLIPSTAN) -> None:
    """Give the zero/identity-initialised STAN parts random values, so that every path
    (temporal attention, level projections) changes the output."""
    torch.manual_seed(1)
    for layer in model.stan.layers:
        for param in layer.temporal.parameters():
            torch.nn.init.normal_(param, std=0.2)
    for proj in model.stan.level_proj or ():
        torch.nn.init.normal_(proj.weight, std=0.2)


@pytest.mark.parametrize('ratio,kept', [(0.0, L), (0.5, L - 8), (0.7, L - 11), (0.75, L - 12)])
def test_each_clip_drops_floor_ratio_of_the_positions(ratio, kept):
    # VideoMAE's count: floor(ratio * L) positions dropped (0.7 * 16 = 11.2 -> 11)
    assert num_kept(L, ratio) == kept
    keep = tube_keep_indices(64, L, ratio, generator=torch.Generator().manual_seed(0))
    assert keep.shape == (64, kept)
    for row in keep:
        assert row.unique().numel() == kept and row.min() >= 0 and row.max() < L
        assert torch.equal(row, row.sort().values)
    if 0 < ratio:
        assert len({tuple(row.tolist()) for row in keep}) > 1  # drawn per clip


def test_ratio_is_checked_and_one_position_always_kept():
    assert num_kept(196, 0.5) == 98 and num_kept(49, 0.5) == 25 and num_kept(10, 0.99) == 1
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r'\[0, 1\)'):
            num_kept(L, bad)


def test_every_position_is_kept_equally_often():
    keep = tube_keep_indices(4000, L, 0.5, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(keep.flatten(), minlength=L).float() / 4000
    assert torch.allclose(counts, torch.full((L,), 0.5), atol=0.04)


def test_gather_positions():
    tokens = torch.arange(2 * 5 * 3).reshape(2, 5, 3)
    keep = torch.tensor([[4, 0], [1, 2]])
    assert gather_positions(tokens, keep).tolist() == [[tokens[0, 4].tolist(), tokens[0, 0].tolist()],
                                                       [tokens[1, 1].tolist(), tokens[1, 2].tolist()]]


def test_clip_tower_on_kept_tokens_equals_open_clip_with_dropped_keys_masked(tiny_arch):
    torch.manual_seed(0)
    vision = CLIPVision(load_clip(tiny_arch)).eval()
    frames = torch.randn(3, 3, 32, 32)
    keep = torch.stack([torch.randperm(L)[:6] for _ in range(3)])  # any order, per frame
    with torch.no_grad():
        last, (first,) = vision(frames, collect=[0], keep=keep)
        assert last.shape == first.shape == (3, 1 + 6, vision.width)
        for i in range(3):
            ref = _open_clip_levels(vision.visual, frames[i:i + 1], _key_mask(keep[i], L))
            for ours, theirs in ((first, ref[0]), (last, ref[-1])):
                torch.testing.assert_close(ours[i, 0], theirs[0, 0], atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(ours[i, 1:], theirs[0, 1 + keep[i]], atol=1e-5, rtol=1e-5)


def test_clip_tower_keeping_everything_equals_the_public_path(tiny_arch):
    torch.manual_seed(0)
    vision = CLIPVision(load_clip(tiny_arch)).eval()
    frames = torch.randn(2, 3, 32, 32)
    order = torch.stack([torch.randperm(L), torch.randperm(L)])
    with torch.no_grad():
        last, levels = vision(frames, collect=[0, 1])
        last_k, levels_k = vision(frames, collect=[0, 1], keep=order)
    for full, kept in zip([last, *levels], [last_k, *levels_k]):
        torch.testing.assert_close(gather_positions(full[:, 1:], order), kept[:, 1:], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(full[:, 0], kept[:, 0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('options', [
    dict(),
    dict(preset='official'),
    dict(temporal_init='zero_qkv', temporal_cls=True),
])
def test_clip_stan_on_kept_tokens_equals_unmasked_model_with_dropped_keys_masked(tiny_arch, options):
    torch.manual_seed(0)
    t = 3
    model = CLIPSTAN(tiny_arch, num_frames=t, num_layers=2, drop_path_rate=0.0, **options).eval()
    _randomise_identity_parts(model)
    video = torch.randn(2, 3, t, 32, 32)
    keep = torch.stack([torch.randperm(L)[:7] for _ in range(2)])  # [B, K], per clip
    with torch.no_grad():
        frames = model(video, keep=keep)  # [B, T, E]
        for b in range(2):
            mask = _key_mask(keep[b], L)
            clip_frames = video[b:b + 1].transpose(1, 2)[0]  # [T, 3, H, W]
            levels = _open_clip_levels(model.clip.visual, clip_frames, mask)
            real = stan_module.attention_residual

            def masked(block, x, mask=mask):
                return block.ls_1(block.attention(block.ln_1(x), attn_mask=mask))

            with mock.patch.object(stan_module, 'attention_residual', masked):
                cls, patches = model.stan([levels[i] for i in model.feeding], t)
            assert stan_module.attention_residual is real
            kept_last = torch.cat([levels[-1][:, :1], levels[-1][:, 1 + keep[b]]], dim=1)
            fused = model.fuse(kept_last, cls, patches[:, :, keep[b]])
            expected = model.clip.project(fused).reshape(1, t, -1)
            torch.testing.assert_close(frames[b:b + 1], expected, atol=1e-5, rtol=1e-5)


def test_dropped_patches_do_not_reach_the_output_kept_ones_do(tiny_arch):
    torch.manual_seed(0)
    model = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2, drop_path_rate=0.0,
                     temporal_cls=True).eval()
    _randomise_identity_parts(model)
    video = torch.randn(1, 3, 4, 32, 32)
    keep = torch.tensor([[0, 5, 6, 15]])
    dropped = sorted(set(range(L)) - set(keep[0].tolist()))

    def perturb(position: int) -> torch.Tensor:
        row, col = divmod(position, 4)
        changed = video.clone()
        changed[..., row * 8:(row + 1) * 8, col * 8:(col + 1) * 8] += 3.0  # that patch, all frames
        return changed

    with torch.no_grad():
        base = model(video, keep=keep)
        for position in dropped:
            torch.testing.assert_close(model(perturb(position), keep=keep), base, atol=0, rtol=0)
        for position in keep[0].tolist():
            assert not torch.allclose(model(perturb(position), keep=keep), base)


def test_training_drops_the_same_positions_in_every_frame_of_a_clip(tiny_arch):
    model = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2, tube_mask_ratio=0.5).train()
    seen = []
    model.clip.register_forward_pre_hook(lambda m, args, kwargs: seen.append(kwargs['keep']),
                                         with_kwargs=True)
    torch.manual_seed(0)
    b, t = 8, 4
    out = model(torch.randn(b, 3, t, 32, 32))
    assert out.shape == (b, t, 64)
    frame_keep = seen[0].reshape(b, t, -1)  # frames are clip-major
    assert frame_keep.shape[-1] == num_kept(L, 0.5)
    assert all(torch.equal(frame_keep[i, 0], frame_keep[i, j]) for i in range(b) for j in range(t))
    assert len({tuple(frame_keep[i, 0].tolist()) for i in range(b)}) > 1  # differ per clip


def test_no_masking_in_eval_mode_nor_at_ratio_zero(tiny_arch):
    torch.manual_seed(0)
    masked = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2, drop_path_rate=0.0, tube_mask_ratio=0.7)
    plain = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2, drop_path_rate=0.0)
    plain.load_state_dict(masked.state_dict())
    video = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        expected = plain.eval()(video)
        torch.testing.assert_close(masked.eval()(video), expected, atol=0, rtol=0)
        torch.testing.assert_close(plain.train()(video), expected, atol=1e-6, rtol=1e-6)
        assert not torch.allclose(masked.train()(video), expected, atol=1e-3)


def test_feature_map_output_refuses_masking(tiny_arch):
    with pytest.raises(ValueError, match='feature_map'):
        CLIPSTAN(tiny_arch, num_layers=2, output='feature_map', tube_mask_ratio=0.5)
    model = CLIPSTAN(tiny_arch, num_frames=2, num_layers=2, output='feature_map').train()
    assert model(torch.randn(1, 3, 2, 32, 32)).shape == (1, 64, 2, 4, 4)  # unmasked in training
    with pytest.raises(ValueError, match='feature_map'):
        model(torch.randn(1, 3, 2, 32, 32), keep=torch.arange(4)[None])


def test_masked_forward_costs_what_the_kept_tokens_cost(tiny_arch):
    """Keeping 4 of the 4x4 positions costs exactly what the same model costs on a 2x2
    grid (16 px frames), except the patch-embedding stem, which still runs on all 16."""
    torch.manual_seed(0)
    model = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2).eval()
    small = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2, input_resolution=16).eval()
    video, small_video = torch.randn(2, 3, 4, 32, 32), torch.randn(2, 3, 4, 16, 16)
    keep = tube_keep_indices(2, L, 0.75)
    assert keep.shape[1] == 4
    full = count_flops(model, video)
    masked = count_flops(lambda v: model(v, keep=keep), video)
    on_kept = count_flops(small, small_video)
    stem = count_flops(model.clip.visual.conv1, video.transpose(1, 2).flatten(0, 1))
    small_stem = count_flops(small.clip.visual.conv1, small_video.transpose(1, 2).flatten(0, 1))
    assert masked == on_kept - small_stem + stem
    assert masked < full


def test_benchmark_tool_explains_a_config_it_cannot_time():
    result = run_tool(['tools/analysis/benchmark_tube_mask.py', 'configs/stan/k400.py'], timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith('error: configs/stan/k400.py: model.type')


@pytest.mark.slow
def test_benchmark_tool_times_and_counts_both_settings():
    result = run_tool(['tools/analysis/benchmark_tube_mask.py', 'configs/stan/msrvtt.py',
                       '--batch', '1', '--repeats', '1'], timeout=3000)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = {line.split(':')[0]: line for line in result.stdout.splitlines()}
    forward = {r: float(re.search(r'forward ([\d.]+) GFLOPs', lines[f'ratio {r}']).group(1))
               for r in ('0.0', '0.5')}
    assert 0 < forward['0.5'] < forward['0.0']
    assert 'masked / unmasked' in lines
