"""Loading CLIP weights from local files in every supported format, and clear errors."""
import open_clip
import pytest
import torch

from mmstan.errors import UserError
from mmstan.models.clip import load_clip, read_state_dict


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_random_init_when_no_weights(tiny_arch):
    model = load_clip(tiny_arch)
    assert isinstance(model, open_clip.CLIP)


def test_open_clip_state_dict_file(tmp_path, tiny_arch):
    src = load_clip(tiny_arch)
    path = tmp_path / 'open_clip.pt'
    torch.save(src.state_dict(), path)
    assert _same_weights(load_clip(tiny_arch, str(path)), src)


def test_wrapped_and_ddp_prefixed_state_dict(tmp_path, tiny_arch):
    src = load_clip(tiny_arch)
    path = tmp_path / 'wrapped.pth'
    torch.save({'state_dict': {'module.' + k: v for k, v in src.state_dict().items()}}, path)
    assert _same_weights(load_clip(tiny_arch, str(path)), src)


def test_openai_format_uses_quick_gelu(tmp_path, tiny_arch):
    src = load_clip(tiny_arch)
    state = dict(src.state_dict(), input_resolution=torch.tensor(32),
                 context_length=torch.tensor(32), vocab_size=torch.tensor(49408))
    path = tmp_path / 'openai.pt'
    torch.save(state, path)
    model = load_clip(tiny_arch, str(path))
    assert _same_weights(model, src)
    act = model.visual.transformer.resblocks[0].mlp.gelu
    assert type(act).__name__ == 'QuickGELU'


def test_torchscript_archive(tmp_path, tiny_arch):
    src = load_clip(tiny_arch).eval()
    traced = torch.jit.trace(src.visual, torch.randn(1, 3, 32, 32), check_trace=False)
    path = tmp_path / 'visual_jit.pt'
    traced.save(str(path))
    state = read_state_dict(str(path))
    assert set(state) == set(src.visual.state_dict())


def test_safetensors_file(tmp_path, tiny_arch):
    from safetensors.torch import save_file

    src = load_clip(tiny_arch)
    path = tmp_path / 'open_clip_model.safetensors'
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    assert _same_weights(load_clip(tiny_arch, str(path)), src)


def test_missing_file_is_one_clear_error(tmp_path, tiny_arch):
    missing = tmp_path / 'nope' / 'ViT-B-16.pt'
    with pytest.raises(UserError, match=f'not found: {missing}'):
        load_clip(tiny_arch, str(missing))


def test_mismatched_file_names_architecture(tmp_path, tiny_arch):
    other = dict(tiny_arch, vision_cfg=dict(tiny_arch['vision_cfg'], layers=1))
    path = tmp_path / 'small.pt'
    torch.save(load_clip(other).state_dict(), path)
    with pytest.raises(UserError, match='does not match architecture'):
        load_clip(tiny_arch, str(path))


def test_offline_tag_says_how_to_get_the_file(monkeypatch):
    def offline(*args, **kwargs):
        raise RuntimeError('Cannot reach the hub (offline)')

    monkeypatch.setattr(open_clip, 'create_model', offline)
    with pytest.raises(UserError, match=r'ViT-B-16/openai.*tools/download_clip.py.*pretrained='):
        load_clip('ViT-B-16', 'openai')


def test_unknown_arch():
    with pytest.raises(UserError, match="unknown open_clip architecture 'ViT-X-99'"):
        load_clip('ViT-X-99')
