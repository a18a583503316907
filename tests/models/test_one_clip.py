"""One CLIP per model: a retriever or a Mug-STAN recognizer reads its weights file once
and hands each tower its part."""
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from conftest import ROOT
from mmstan.errors import UserError
from mmstan.models.clip import load_clip, weights


@pytest.fixture
def counted_reads(monkeypatch):
    reads, builds = [], []
    read, create = weights.read_state_dict, weights.create_clip
    monkeypatch.setattr(weights, 'read_state_dict',
                        lambda *a, **k: reads.append(a[0]) or read(*a, **k))
    monkeypatch.setattr(weights, 'create_clip', lambda *a, **k: builds.append(1) or create(*a, **k))
    return reads, builds


def _saved_clip(tiny_arch, tmp_path, counted):
    state = load_clip(tiny_arch).state_dict()
    path = str(tmp_path / 'clip.pt')
    torch.save(state, path)
    for calls in counted:
        calls.clear()  # count only what the model build does
    return state, path


def test_retriever_from_config_loads_the_weights_file_once(tiny_arch, tmp_path, counted_reads):
    state, path = _saved_clip(tiny_arch, tmp_path, counted_reads)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/demo/synthetic_motion_retrieval.py'))
    cfg.model.clip = dict(arch=tiny_arch, pretrained=path)
    model = MODELS.build(cfg.model)
    reads, builds = counted_reads
    assert reads == [path] and len(builds) == 1
    torch.testing.assert_close(model.backbone.clip.visual.conv1.weight, state['visual.conv1.weight'])
    torch.testing.assert_close(model.text_encoder.text.token_embedding.weight,
                               state['token_embedding.weight'])
    # the STAN branch's spatial modules are copies of the same file's CLIP blocks
    torch.testing.assert_close(model.backbone.stan.layers[0].spatial.block.mlp.c_fc.weight,
                               state['visual.transformer.resblocks.0.mlp.c_fc.weight'])


def test_mugstan_recognizer_loads_the_weights_file_once(tiny_arch, tmp_path, counted_reads):
    state, path = _saved_clip(tiny_arch, tmp_path, counted_reads)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/mugstan/k400.py'))
    cfg.model.clip = dict(arch=tiny_arch, pretrained=path)
    cfg.model.backbone.update(input_resolution=32, num_layers=2)
    cfg.model.cls_head.classes = ['left', 'right']
    model = MODELS.build(cfg.model)
    reads, builds = counted_reads
    assert reads == [path] and len(builds) == 1
    torch.testing.assert_close(model.cls_head.text_encoder.text.positional_embedding,
                               state['positional_embedding'])
    torch.testing.assert_close(model.backbone.clip.visual.class_embedding, state['visual.class_embedding'])


def test_a_tower_cannot_name_its_own_clip_inside_a_shared_model(tiny_arch):
    with pytest.raises(UserError, match='remove arch/pretrained from CLIPSTAN'):
        MODELS.build(dict(type='VideoTextRetriever', clip=dict(arch=tiny_arch),
                          backbone=dict(type='CLIPSTAN', arch='ViT-B-16', num_layers=1)))
    with pytest.raises(UserError, match=r"model.clip takes dict\(arch=..., pretrained=...\)"):
        MODELS.build(dict(type='VideoTextRetriever', clip=dict(arch=tiny_arch, pretraind='x'),
                          backbone=dict(type='CLIPSTAN', num_layers=1)))


def _zero_shot_recognizer(tiny_arch, names):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/mugstan/zeroshot_k400.py'))
    cfg.model.clip = dict(arch=tiny_arch, pretrained=None)
    cfg.model.backbone.update(input_resolution=32, num_layers=2)
    cfg.model.cls_head.classes = names
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('seed', [0, 1])
def test_zero_shot_takes_both_towers_from_one_retriever_checkpoint(tiny_arch, tmp_path, seed):
    import open_clip
    import torch.nn.functional as F
    from mmengine.runner import load_checkpoint, save_checkpoint

    names = ['moving left', 'moving right', 'moving up']
    torch.manual_seed(seed)
    retriever = MODELS.build(dict(type='VideoTextRetriever', clip=dict(arch=tiny_arch),
                                  backbone=dict(type='CLIPSTAN', input_resolution=32, num_layers=2,
                                                num_frames=12),
                                  head=dict(type='MugHead', mode='mug'))).eval()
    path = str(tmp_path / 'retriever.pth')
    save_checkpoint(retriever.state_dict(), path)

    torch.manual_seed(100)  # the recognizer's own random init must not survive loading
    recognizer = _zero_shot_recognizer(tiny_arch, names).eval()
    before = recognizer.cls_head.class_embeddings.clone()
    load_checkpoint(recognizer, path, strict=True)
    with torch.no_grad():
        pooled, _, _ = retriever.text_encoder(open_clip.tokenize(names, context_length=32))
    torch.testing.assert_close(recognizer.cls_head.class_embeddings, F.normalize(pooled, dim=-1))
    assert not torch.allclose(before, recognizer.cls_head.class_embeddings)
    video = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(recognizer.backbone(video), retriever.backbone(video))


def _weight_paths(node, found):
    """Every string of a nested config that looks like a weights file or URL."""
    if isinstance(node, dict):
        for value in node.values():
            _weight_paths(value, found)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _weight_paths(value, found)
    elif isinstance(node, str) and (node.endswith(('.pth', '.pt', '.bin', '.safetensors'))
                                    or '://' in node):
        found.append(node)
    return found


@pytest.mark.parametrize('name', ['zeroshot_k400', 'zeroshot_ucf101', 'zeroshot_hmdb51'])
def test_zero_shot_configs_name_no_second_checkpoint(name):
    """The model config takes no weights of its own: everything comes from the one
    checkpoint given to tools/test.py."""
    cfg = Config.fromfile(osp.join(ROOT, f'configs/mugstan/{name}.py'))
    assert cfg.model.type == 'CLIPRecognizer'
    assert cfg.model.clip.get('pretrained') is None
    assert _weight_paths(cfg.model.to_dict(), []) == []
    assert cfg.get('load_from') is None


def test_changing_the_checkpoint_changes_the_class_embeddings(tiny_arch, tmp_path):
    """Two retriever checkpoints that differ only in their text towers, loaded as
    tools/test.py loads them (mmengine's load_checkpoint): the class embeddings follow the
    file, also when one model loads both in turn."""
    import open_clip
    import torch.nn.functional as F
    from mmengine.runner import load_checkpoint, save_checkpoint

    names = ['moving left', 'moving right', 'moving up']
    torch.manual_seed(0)
    retriever = MODELS.build(dict(type='VideoTextRetriever', clip=dict(arch=tiny_arch),
                                  backbone=dict(type='CLIPSTAN', input_resolution=32, num_layers=2,
                                                num_frames=12),
                                  head=dict(type='MugHead', mode='mug'))).eval()
    first, second = str(tmp_path / 'a.pth'), str(tmp_path / 'b.pth')
    save_checkpoint(retriever.state_dict(), first)
    state = retriever.state_dict()
    state['text_encoder.text.ln_final.bias'] = torch.randn(state['text_encoder.text.ln_final.bias'].shape)
    save_checkpoint(state, second)

    def text_of(path):
        retriever.load_state_dict(torch.load(path, weights_only=True))
        with torch.no_grad():
            pooled, _, _ = retriever.text_encoder(open_clip.tokenize(names, context_length=32))
        return F.normalize(pooled, dim=-1)

    recognizer = _zero_shot_recognizer(tiny_arch, names).eval()
    load_checkpoint(recognizer, first, strict=True)
    from_first = recognizer.cls_head.class_embeddings.clone()
    load_checkpoint(recognizer, second, strict=True)
    from_second = recognizer.cls_head.class_embeddings.clone()
    torch.testing.assert_close(from_first, text_of(first))
    torch.testing.assert_close(from_second, text_of(second))
    assert (from_first - from_second).abs().max() > 1e-2
    video = torch.randn(1, 3, 12, 32, 32)
    with torch.no_grad():  # the video tower is the same in both files: only the text moved
        scores = recognizer.cls_head(recognizer.backbone(video))
        load_checkpoint(recognizer, first, strict=True)
        assert not torch.allclose(scores, recognizer.cls_head(recognizer.backbone(video)))
