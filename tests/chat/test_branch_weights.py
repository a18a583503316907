"""A Mug-STAN checkpoint's STAN branch (mmstan's layout and the official one) loads into
STAN-LLaVA's video tower with no weight left over or missing."""
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip('transformers')

from official_layout import HEADS, IMAGE, LAYERS, MLP, PATCH, WIDTH, official_state  # noqa: E402
from transformers import CLIPVisionConfig, CLIPVisionModel  # noqa: E402

from mmstan.chat import STANVideoTower, branch_config, branch_state, open_clip_from_hf  # noqa: E402
from mmstan.chat.llava import build_video_tower, load_branch  # noqa: E402
from mmstan.chat.tiny import tiny_llava, tiny_mugstan_state  # noqa: E402
from mmstan.errors import UserError  # noqa: E402


def _loads_without_leftovers(tower, branch):
    missing, unexpected = tower.backbone.load_state_dict(branch, strict=False)
    assert unexpected == [] and all(k.startswith('clip.') for k in missing), (missing, unexpected)
    assert sorted(branch) == sorted(k for k in tower.backbone.state_dict() if k.startswith('stan.'))


def test_mmstan_layout_branch_loads_and_its_grid_is_resampled_to_llavas():
    state = tiny_mugstan_state(num_layers=2, num_frames=4, image_size=28)  # a 2x2 grid
    llava = tiny_llava()[0]  # 56 px: a 4x4 grid
    branch, left_out = branch_state(state)
    assert left_out == sorted(k for k in state if not k.startswith('backbone.stan.'))
    assert branch_config(branch) == dict(num_layers=2, preset='paper', level_proj=True,
                                         temporal_module='attention', num_frames=4)
    tower = build_video_tower(llava, state)
    _loads_without_leftovers(tower, branch_state(state)[0])
    loaded = tower.backbone.stan.state_dict()
    for key, value in state.items():
        if key.startswith('backbone.stan.') and key != 'backbone.stan.spatial_pos':
            assert torch.equal(loaded[key[len('backbone.stan.'):]], value), key
    grid = state['backbone.stan.spatial_pos'].reshape(1, 2, 2, -1).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(4, 4), mode='bicubic', align_corners=False)
    assert torch.allclose(loaded['spatial_pos'], expected.permute(0, 2, 3, 1).reshape(16, -1), atol=1e-6)
    # LLaVA's CLIP stays LLaVA's: the checkpoint's own CLIP is not taken
    hf_pos = llava.vision_tower.vision_model.embeddings.position_embedding.weight
    assert torch.equal(tower.backbone.clip.positional_embedding, hf_pos)


def test_official_layout_branch_loads_with_zero_unmatched_keys():
    state = official_state(seed=3)
    branch, left_out = branch_state(state, 'official.pth')
    assert not any('STAN_' in k for k in left_out)
    assert {k.split('.')[0] for k in left_out} == {'backbone', 'text_backbone'}
    cfg = CLIPVisionConfig(hidden_size=WIDTH, intermediate_size=MLP, num_hidden_layers=LAYERS,
                           num_attention_heads=HEADS, image_size=IMAGE, patch_size=PATCH)
    clip = open_clip_from_hf(cfg, CLIPVisionModel(cfg).state_dict())
    config = branch_config(branch)
    assert config['preset'] == 'official' and config['num_layers'] == 2 and not config['level_proj']
    tower = STANVideoTower(clip, config, spatial_pool=1)
    _loads_without_leftovers(tower, branch)
    load_branch(tower, branch, 'official.pth')
    # the intra-frame module of STAN layer 1 is the official STAN_S_layers.1, q/k/v stacked
    s = 'backbone.STAN_S_layers.1.self_attn.'
    qkv = torch.cat([state[f'{s}{n}_proj.weight'] for n in 'qkv'])
    assert torch.equal(tower.backbone.stan.layers[1].spatial.block.attn.in_proj_weight, qkv)
    assert torch.equal(tower.backbone.stan.temporal_pos, state['backbone.STAN_time_embed.weight'])


def test_a_checkpoint_without_a_branch_is_refused_in_one_line():
    state = {k: v for k, v in tiny_mugstan_state().items() if '.stan.' not in k}
    with pytest.raises(UserError, match=r'^clip\.pth holds no STAN branch; give a Mug-STAN'):
        branch_state(state, 'clip.pth')


def test_branch_options_the_weights_do_not_show_come_from_the_config():
    llava, state = tiny_llava()[0], tiny_mugstan_state(num_layers=2)
    assert build_video_tower(llava, state).backbone.feeding == [2, 3]  # the top K=2 of 4 blocks
    tower = build_video_tower(llava, state, branch_options=dict(layer_interval=2))
    assert tower.backbone.feeding == [1, 3]  # every other block, ending at the last ([S] Table 8)
