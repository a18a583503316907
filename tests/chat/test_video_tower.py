"""STAN-LLaVA's video tower against transformers' own LLaVA (tiny random models)."""
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip('transformers')

from mmstan.chat.llava import build_video_tower  # noqa: E402
from mmstan.chat.tiny import tiny_llava, tiny_mugstan_state  # noqa: E402
from mmstan.errors import UserError  # noqa: E402

T = 4


@pytest.fixture(scope='module')
def llava():
    return tiny_llava()[0]


@pytest.fixture(scope='module')
def state():
    return tiny_mugstan_state(num_frames=T)


def _video(seed=0):
    torch.manual_seed(seed)
    return torch.randn(1, 3, T, 56, 56)


def _image_features(llava, frames):
    """transformers' ``get_image_features`` as a ``[T, N, H]`` tensor (a list of per-image
    tensors in transformers >= 4.52)."""
    out = llava.get_image_features(frames)
    return torch.stack(list(out)) if isinstance(out, (list, tuple)) else out


@pytest.mark.parametrize('strategy,layer', [('default', -2), ('full', -1)])
def test_branch_off_gives_llavas_own_image_features_per_frame(strategy, layer, state):
    llava = tiny_llava(vision_feature_select_strategy=strategy, vision_feature_layer=layer)[0]
    tower = build_video_tower(llava, state, use_branch=False, spatial_pool=1)
    video = _video()
    frames = video[0].transpose(0, 1)  # [T, 3, S, S]
    with torch.no_grad():
        tokens = tower(video)  # [1, T*N, D]
        hidden = llava.vision_tower(frames, output_hidden_states=True).hidden_states[layer]
        expected_in = hidden[:, 1:] if strategy == 'default' else hidden
        expected_out = _image_features(llava, frames)
        projected = llava.multi_modal_projector(tokens)
    n = expected_in.shape[1]
    assert tower.tokens_per_frame == n and tokens.shape == (1, T * n, tower.width)
    assert (tokens.reshape(T, n, -1) - expected_in).abs().max() <= 1e-5  # the projector's input
    assert (projected.reshape(T, n, -1) - expected_out).abs().max() <= 1e-5  # and its output


def test_branch_on_tokens_fit_the_projector_and_follow_frame_order(llava, state):
    tower = build_video_tower(llava, state, spatial_pool=1)
    video = _video()
    with torch.no_grad():
        tokens = tower(video)
        reversed_tokens = tower(video.flip(2))
        tower.use_branch = False
        plain = tower(video)
        plain_reversed = tower(video.flip(2))
        tower.use_branch = True
        projected = llava.multi_modal_projector(tokens)
    n = 16  # 56 px / patch 14: a 4x4 grid, [CLS] dropped ('default')
    assert tokens.shape == plain.shape == (1, T * n, llava.config.vision_config.hidden_size)
    assert projected.shape == (1, T * n, llava.config.text_config.hidden_size)
    per_frame = tokens.reshape(T, n, -1)
    per_frame_reversed = reversed_tokens.reshape(T, n, -1).flip(0)  # back in the original order
    # without the branch, reversing the frames only reverses the per-frame tokens ...
    assert torch.allclose(plain.reshape(T, n, -1), plain_reversed.reshape(T, n, -1).flip(0), atol=1e-6)
    # ... with it, every frame's tokens depend on where the frame is in the video
    assert (per_frame - per_frame_reversed).abs().amax(dim=(1, 2)).min() > 1e-3
    assert not torch.allclose(tokens, plain, atol=1e-3)


def test_spatial_and_temporal_pooling_are_averages_of_the_frame_tokens(llava, state):
    full = build_video_tower(llava, state, spatial_pool=1)
    pooled = build_video_tower(llava, state, spatial_pool=2, temporal_pool=2)
    video = _video(1)
    with torch.no_grad():
        grid = full(video).reshape(T, 4, 4, -1)
        out = pooled(video)
    assert pooled.tokens_per_frame == 4 and pooled.num_tokens(T) == 8 == out.shape[1]
    pairs = grid.reshape(T // 2, 2, 4, 4, -1).mean(dim=1)  # mean over consecutive frames
    cells = F.avg_pool2d(pairs.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)  # 2x2 cells
    assert torch.allclose(out.reshape(T // 2, 2, 2, -1), cells, atol=1e-5)


def test_pooling_that_does_not_divide_the_grid_is_refused(llava, state):
    with pytest.raises(UserError, match='spatial_pool=3 must divide the 4x4 patch grid'):
        build_video_tower(llava, state, spatial_pool=3)
