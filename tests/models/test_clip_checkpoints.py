"""OpenAI / open_clip CLIP checkpoints as initial weights: open_clip ViT-B-32 random
weights saved in open_clip's layout and in OpenAI's (TorchScript archive and plain state
dict, with OpenAI's metadata keys) load through a config's ``pretrained=<path>`` and give
the image (and text) features open_clip itself gives for the same file; the converter
tool checks a file against an architecture and writes a weights-only copy.

The reference is open_clip's own reading of each file: ``create_model(pretrained=path)``
for its layout, ``load_openai_model`` for OpenAI's.
"""
import os.path as osp

import open_clip
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from conftest import ROOT, run_tool

ARCH = 'ViT-B-32'
OPENAI_META = dict(input_resolution=224, context_length=77, vocab_size=49408)
pytestmark = pytest.mark.slow  # ViT-B-32 models: a few seconds each


class _OpenAIArchive(torch.nn.Module):
    """A TorchScript archive shaped like OpenAI's releases: the CLIP's weights under
    their own names plus the three metadata tensors."""

    def __init__(self, clip: torch.nn.Module):
        super().__init__()
        for name, child in clip.named_children():
            self.add_module(name, child)
        for name, param in clip.named_parameters(recurse=False):
            self.register_parameter(name, param)
        for name, value in OPENAI_META.items():
            self.register_buffer(name, torch.tensor(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.fixture(scope='module')
def clip_files(tmp_path_factory):
    """``{layout: path}`` of one set of random ViT-B-32 weights in three layouts."""
    folder = tmp_path_factory.mktemp('clip_files')
    torch.manual_seed(0)
    model = open_clip.create_model(ARCH)
    with torch.no_grad():  # non-trivial norms and biases too
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    state = model.state_dict()
    paths = dict(open_clip=str(folder / 'open_clip_b32.pth'), openai_plain=str(folder / 'openai_b32.pt'),
                 openai_jit=str(folder / 'openai_b32_jit.pt'))
    torch.save(state, paths['open_clip'])
    # OpenAI's files hold float16 weights (open_clip's reader rounds to float16 too)
    openai = {k: v.half() for k, v in state.items()}
    openai.update({k: torch.tensor(v) for k, v in OPENAI_META.items()})
    torch.save(openai, paths['openai_plain'])
    archive = _OpenAIArchive(open_clip.create_model(ARCH, force_quick_gelu=True)).half()
    archive.load_state_dict(openai)
    torch.jit.save(torch.jit.script(archive), paths['openai_jit'])
    return paths


def reference(layout: str, path: str) -> torch.nn.Module:
    if layout == 'open_clip':
        return open_clip.create_model(ARCH, pretrained=path).eval()
    return open_clip.load_openai_model(path, precision='fp32', device='cpu').eval()


def image_features(vision, images):
    """``CLIPVision`` (what every backbone wraps) -> CLIP image embeddings."""
    last, _ = vision(images)
    return vision.project(last)


@pytest.mark.parametrize('layout', ['open_clip', 'openai_plain', 'openai_jit'])
def test_recognition_config_backbone_pretrained(clip_files, layout):
    path = clip_files[layout]
    cfg = Config.fromfile(osp.join(ROOT, 'configs/stan/k400_b32.py'))
    cfg.model.backbone.pretrained = path
    model = MODELS.build(cfg.model).eval()
    ref = reference(layout, path)
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = image_features(model.backbone.clip, images)
        torch.testing.assert_close(ours, ref.encode_image(images), atol=1e-5, rtol=1e-5)
    # OpenAI's models use QuickGELU; open_clip's ViT-B-32 config uses GELU: both followed
    act = type(model.backbone.clip.blocks[0].mlp.gelu).__name__
    assert act == type(ref.visual.transformer.resblocks[0].mlp.gelu).__name__


@pytest.mark.parametrize('layout', ['openai_jit'])
def test_retrieval_config_clip_pretrained(clip_files, layout):
    """``model.clip.pretrained`` of a retrieval config: both towers from the one file."""
    path = clip_files[layout]
    cfg = Config.fromfile(osp.join(ROOT, 'configs/stan/msrvtt.py'))
    assert cfg.model.clip.arch == ARCH
    cfg.model.clip.pretrained = path
    model = MODELS.build(cfg.model).eval()
    ref = reference(layout, path)
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    tokens = open_clip.tokenize(['a dog runs on the beach', 'someone is cooking'], context_length=77)
    with torch.no_grad():
        torch.testing.assert_close(image_features(model.backbone.clip, images), ref.encode_image(images),
                                   atol=1e-5, rtol=1e-5)
        pooled, _, _ = model.encode_text(tokens)
        torch.testing.assert_close(pooled, ref.encode_text(tokens), atol=1e-5, rtol=1e-5)


def test_converter_writes_a_weights_only_copy(clip_files, tmp_path):
    out = tmp_path / 'b32.pth'
    proc = run_tool(['tools/model_converters/clip_to_open_clip.py', clip_files['openai_jit'], ARCH,
                     str(out)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'OpenAI layout' in proc.stdout and 'QuickGELU' in proc.stdout
    state = torch.load(out, weights_only=True)  # the TorchScript archive is now plain tensors
    original = torch.jit.load(clip_files['openai_jit']).state_dict()
    assert state.keys() == original.keys()
    for key, value in original.items():
        assert torch.equal(state[key], value), key
    from mmstan.models.clip.weights import read_state_dict
    assert read_state_dict(str(out)).keys() == original.keys()  # what pretrained= reads


def test_converter_fails_on_another_architecture(clip_files, tmp_path):
    out = tmp_path / 'b16.pth'
    proc = run_tool(['tools/model_converters/clip_to_open_clip.py', clip_files['open_clip'], 'ViT-B-16',
                     str(out)])
    assert proc.returncode == 1
    assert 'unmatched: visual.conv1.weight' in proc.stdout  # patch 32 vs 16: misshapen
    assert len(proc.stderr.strip().splitlines()) == 1 and 'ViT-B-16' in proc.stderr
    assert not out.exists()
