"""Official STAN checkpoints (HF CLIP naming) convert into CLIPSTAN(preset='official')."""
import torch

from conftest import run_tool
from mmstan.models.backbones import CLIPSTAN
from mmstan.models.official_checkpoint import convert_official

D, LAYERS, FRAMES = 64, 2, 4


def official_state(k_layers=2):
    """A random state dict with the official code's key names and shapes (tiny CLIP)."""
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    def layer(prefix):
        s = {}
        for n in ('q', 'k', 'v', 'out'):
            s[f'{prefix}self_attn.{n}_proj.weight'] = r(D, D)
            s[f'{prefix}self_attn.{n}_proj.bias'] = r(D)
        for n in ('layer_norm1', 'layer_norm2'):
            s[f'{prefix}{n}.weight'], s[f'{prefix}{n}.bias'] = r(D), r(D)
        s[f'{prefix}mlp.fc1.weight'], s[f'{prefix}mlp.fc1.bias'] = r(2 * D, D), r(2 * D)
        s[f'{prefix}mlp.fc2.weight'], s[f'{prefix}mlp.fc2.bias'] = r(D, 2 * D), r(D)
        return s

    s = {'embeddings.class_embedding': r(D), 'embeddings.patch_embedding.weight': r(D, 3, 8, 8),
         'embeddings.position_embedding.weight': r(17, D), 'visual_projection.weight': r(64, D),
         'STAN_time_embed.weight': r(64, D)}
    for n in ('pre_layrnorm', 'post_layernorm'):
        s[f'{n}.weight'], s[f'{n}.bias'] = r(D), r(D)
    for i in range(LAYERS):
        s.update(layer(f'encoder.layers.{i}.'))
    for k in range(k_layers):
        s.update(layer(f'STAN_S_layers.{k}.'))
        t = f'STAN_T_layers.{k}.'
        for n in ('q', 'k', 'v', 'out'):
            s[f'{t}self_attn.{n}_proj.weight'], s[f'{t}self_attn.{n}_proj.bias'] = r(D, D), r(D)
        s[f'{t}layernorm.weight'], s[f'{t}layernorm.bias'] = r(D), r(D)
        s[f'{t}temporal_fc.weight'], s[f'{t}temporal_fc.bias'] = r(D, D), r(D)
    s['text_backbone.text_model.final_layer_norm.weight'] = r(D)
    return {('' if k.startswith('text_') else 'backbone.') + k: v for k, v in s.items()}


def test_converted_weights_load_strictly_and_compose(tiny_arch):
    state = official_state()
    converted, unmapped = convert_official(state, num_frames=FRAMES)
    model = CLIPSTAN(tiny_arch, num_frames=FRAMES, num_layers=2, preset='official')
    model.load_state_dict(converted, strict=True)  # every parameter covered, shapes right
    assert unmapped == []  # the text key has no backbone. prefix: not ours to map
    t = 'backbone.STAN_T_layers.0.'
    temporal = model.stan.layers[0].temporal
    torch.testing.assert_close(temporal.proj.weight,
                               state[t + 'temporal_fc.weight'] @ state[t + 'self_attn.out_proj.weight'])
    torch.testing.assert_close(temporal.qkv.weight[:D], state[t + 'self_attn.q_proj.weight'])
    torch.testing.assert_close(model.clip.visual.proj, state['backbone.visual_projection.weight'].T)
    torch.testing.assert_close(model.stan.temporal_pos, state['backbone.STAN_time_embed.weight'][:FRAMES])
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, FRAMES, 32, 32)).shape == (1, FRAMES, 64)


def test_converter_tool(tmp_path, tiny_arch):
    src = tmp_path / 'official.bin'
    torch.save(official_state(), src)
    proc = run_tool(['tools/model_converters/stan_official_to_mmstan.py', str(src),
                     str(tmp_path / 'out.pth'), '--num-frames', str(FRAMES)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert all(k.startswith('backbone.') for k in ckpt['state_dict'])
