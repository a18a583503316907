"""tools/model_converters/*: official STAN checkpoints -> mmengine checkpoints for mmstan."""
import torch
from official_layout import ARCH, DEPTH, official_state, official_video

from conftest import run_tool
from mmstan.models.backbones import CLIPSTAN

RETRIEVER = 'tools/model_converters/stan_official_to_retriever.py'
BACKBONE = 'tools/model_converters/stan_official_to_backbone.py'


def save_official(path, state):
    """As the official (mmengine) runner saves it: wrapped in state_dict, with meta."""
    torch.save({'meta': {'epoch': 5}, 'state_dict': state}, path)
    return str(path)


def test_retriever_converter_end_to_end(tmp_path):
    state = official_state()
    dst = tmp_path / 'out' / 'retriever.pth'
    proc = run_tool([RETRIEVER, save_official(tmp_path / 'official.pth', state), str(dst)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    # every attention's q/k/v (weights and biases: 6 tensors) become one in_proj / qkv pair (2);
    # each temporal layer's out_proj and temporal_fc (4) one proj (2); the branch gains its
    # own copies of the spatial position embedding and the embedded class token (2)
    attentions = sum(k.endswith('self_attn.q_proj.weight') for k in state)
    temporal = sum(k.endswith('temporal_fc.weight') for k in state)
    assert f'wrote {len(state) - 4 * attentions - 2 * temporal + 2} tensors' in proc.stdout
    assert "clip=dict(arch='<an open_clip ViT with width 64, patch 8, 2 layers" in proc.stdout
    assert "preset='official', num_layers=2" in proc.stdout
    ckpt = torch.load(dst, weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'} and 'CLIPSTAN' in ckpt['meta']['target']
    prefixes = {k.split('.')[0] for k in ckpt['state_dict']}
    assert prefixes == {'backbone', 'text_encoder'}


def test_backbone_converter_end_to_end(tmp_path):
    state = official_state()
    dst = tmp_path / 'backbone.pth'
    proc = run_tool([BACKBONE, save_official(tmp_path / 'official.pth', state), str(dst)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    skipped = sum(not k.startswith('backbone.') for k in state)
    assert f'left out {skipped} keys of the text tower and head' in proc.stdout
    converted = torch.load(dst, weights_only=True)['state_dict']
    model = CLIPSTAN(ARCH, num_frames=4, num_layers=DEPTH, preset='official').eval()
    model.load_state_dict({k[len('backbone.'):]: v for k, v in converted.items()}, strict=True)
    video = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(video), official_video(state, video), atol=1e-5, rtol=1e-5)


def test_unknown_key_fails_naming_it(tmp_path):
    state = dict(official_state(), **{'backbone.STAN_extra.weight': torch.zeros(3)})
    src = save_official(tmp_path / 'official.pth', state)
    for tool in (RETRIEVER, BACKBONE):
        dst = tmp_path / 'out.pth'
        proc = run_tool([tool, src, str(dst)])
        assert proc.returncode == 1, proc.stdout
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('error: 1 keys')
        assert 'backbone.STAN_extra.weight' in lines[0]
        assert 'unmatched: backbone.STAN_extra.weight' in proc.stdout
        assert not dst.exists()


def test_wrong_file_fails_in_one_line(tmp_path):
    missing = run_tool([RETRIEVER, str(tmp_path / 'nope.bin'), str(tmp_path / 'out.pth')])
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert 'nope.bin' in missing.stderr
    bare = {k[len('backbone.'):]: v for k, v in official_state().items() if k.startswith('backbone.')}
    src = save_official(tmp_path / 'bare.pth', bare)
    proc = run_tool([RETRIEVER, src, str(tmp_path / 'out.pth')])
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert 'lacks backbone.class_embedding' in proc.stderr
    # ... which the backbone converter reads with --prefix ''
    proc = run_tool([BACKBONE, src, str(tmp_path / 'out.pth'), '--prefix', ''])
    assert proc.returncode == 0, proc.stderr[-2000:]
