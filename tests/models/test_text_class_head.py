"""The class-name text head ([M] eq. 20) and label maps."""
import os.path as osp

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mug_reference import paper_mug

from conftest import ROOT
from mmstan.errors import UserError
from mmstan.models.clip import load_clip
from mmstan.models.heads import TextClassHead, class_name_text, read_class_names

NAMES = ['moving left', 'moving right', 'moving up', 'pushing something from left to right',
         'bowling']


def test_mug_logits_are_each_class_names_tokens_against_the_clips_frames(tiny_arch):
    """scoring='mug' ([M] eq. 20 read with eqs. 11-18's v~ and c~): logit[b, n] =
    tau * c~_n . v~_n for clip b, from a per-class loop of the paper's equations in float64
    (tests/mug_reference.py), names of different token counts (padding never read)."""
    torch.manual_seed(0)
    head = TextClassHead(NAMES, arch=tiny_arch, scoring='mug').double()
    frames = torch.randn(3, 4, 64, dtype=torch.float64)
    logits = head(frames)

    tokens_ids = open_clip.tokenize(NAMES, context_length=32)
    with torch.no_grad():
        _, tokens, mask = head.text_encoder(tokens_ids)
    expected = torch.empty(3, len(NAMES), dtype=torch.float64)
    for n in range(len(NAMES)):                       # each class name plays the caption
        c = F.normalize(tokens[n][mask[n]], dim=-1)   # its real tokens: [SOT] ... [EOT]
        for b in range(frames.shape[0]):
            expected[b, n] = 100.0 * paper_mug(c, F.normalize(frames[b], dim=-1), tau=100.0)
    assert logits.shape == (3, len(NAMES)) and logits.dtype == torch.float64
    assert (logits - expected).abs().max() < 1e-9
    assert len(set(mask.sum(1).tolist())) > 1          # the names differ in length
    # and it is not the global cosine (the default before)
    glob = 100.0 * F.normalize(frames.mean(1), dim=-1) @ head.class_embeddings.T
    assert (logits - glob).abs().max() > 1.0


def test_mug_logits_in_float32_match_the_float64_loop(tiny_arch):
    torch.manual_seed(1)
    head = TextClassHead(NAMES, arch=tiny_arch)      # Mug is the default
    assert head.scoring == 'mug'
    frames = torch.randn(2, 8, 64)
    tokens, mask = head.class_token_embeddings
    expected = torch.stack([torch.stack([
        100.0 * paper_mug(tokens[n][mask[n]].double(), F.normalize(frames[b].double(), dim=-1))
        for n in range(len(NAMES))]) for b in range(2)])
    torch.testing.assert_close(head(frames).double(), expected, atol=1e-3, rtol=0)


def test_unknown_scoring_is_refused(tiny_arch):
    with pytest.raises(ValueError, match='scoring must be one of'):
        TextClassHead(['left'], arch=tiny_arch, scoring='cosine')


def test_text_class_head_is_scaled_cosine_with_open_clips_text_embeddings(tiny_arch, tmp_path):
    model = load_clip(tiny_arch).eval()
    path = tmp_path / 'clip.pt'
    torch.save(model.state_dict(), path)
    names = ['moving left', 'moving right', 'moving up']
    head = TextClassHead(names, arch=tiny_arch, pretrained=str(path), tau=100.0, topk=(1,),
                         scoring='global')
    with torch.no_grad():
        expected = F.normalize(model.encode_text(open_clip.tokenize(names, context_length=32)), dim=-1)
    torch.testing.assert_close(head.class_embeddings, expected, atol=1e-5, rtol=1e-5)
    frames = torch.randn(2, 4, 64)
    video = F.normalize(frames.mean(1), dim=-1)
    torch.testing.assert_close(head(frames), 100.0 * video @ expected.T, atol=1e-4, rtol=1e-5)
    assert not any(p.requires_grad for p in head.parameters())  # text side is frozen
    one_frame = frames[:, 0]   # [N, E] input: a clip of one frame
    torch.testing.assert_close(head(one_frame), 100.0 * F.normalize(one_frame, dim=-1) @ expected.T,
                               atol=1e-4, rtol=1e-5)


def test_both_scorings_have_the_same_state_dict(tiny_arch):
    mug = TextClassHead(['left', 'right'], arch=tiny_arch, scoring='mug')
    glob = TextClassHead(['left', 'right'], arch=tiny_arch, scoring='global')
    assert mug.state_dict().keys() == glob.state_dict().keys()
    glob.load_state_dict(mug.state_dict(), strict=True)


def test_class_embeddings_follow_loaded_text_weights(tiny_arch):
    head = TextClassHead(['left', 'right'], arch=tiny_arch)
    before = head.class_embeddings.clone()
    before_tokens = head.class_token_embeddings[0].clone()
    frames = torch.randn(2, 4, 64)
    before_logits = head(frames)
    other = TextClassHead(['left', 'right'], arch=tiny_arch)  # another random init
    head.load_state_dict(other.state_dict())
    torch.testing.assert_close(head.class_embeddings, other.class_embeddings)
    torch.testing.assert_close(head.class_token_embeddings, other.class_token_embeddings)
    torch.testing.assert_close(head(frames), other(frames))
    assert not torch.allclose(before, head.class_embeddings)
    assert not torch.allclose(before_tokens, head.class_token_embeddings[0])
    assert not torch.allclose(before_logits, head(frames))


def test_multi_view_test_averages_each_views_mug_scores(tiny_arch):
    """mmaction2's average_clips: each view is scored on its own, then averaged."""
    head = TextClassHead(NAMES, arch=tiny_arch, average_clips='prob')
    views = torch.randn(2 * 3, 4, 64)     # 2 videos x 3 views
    samples = [ActionDataSample().set_gt_label(0), ActionDataSample().set_gt_label(1)]
    with torch.no_grad():
        preds = head.predict(views, samples)
        expected = head(views).softmax(-1).view(2, 3, -1).mean(1)
    for pred, row in zip(preds, expected):
        torch.testing.assert_close(pred.pred_score, row)


MUGSTAN_RECOGNITION = ['k400', 'ssv2', 'zeroshot_hmdb51', 'zeroshot_ucf101', 'zeroshot_k400']


@pytest.mark.parametrize('name', MUGSTAN_RECOGNITION)
def test_mugstan_recognition_configs_score_with_mug(name):
    cfg = Config.fromfile(osp.join(ROOT, f'configs/mugstan/{name}.py'))
    assert cfg.model.cls_head.type == 'TextClassHead'
    assert cfg.model.cls_head.scoring == 'mug'


def _tiny_mugstan_k400(tiny_arch, names):
    """configs/mugstan/k400.py with a tiny random-init CLIP, 32 px, 4 frames."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs/mugstan/k400.py'))
    cfg.model.clip = dict(arch=tiny_arch, pretrained=None)
    cfg.model.backbone.update(input_resolution=32, num_layers=2, num_frames=4)
    cfg.model.cls_head.classes = names
    return MODELS.build(cfg.model)


def test_mug_recognizer_trains_the_video_side_only_and_tests_with_views(tiny_arch):
    """CLIPRecognizer + Mug head (configs/mugstan/k400.py, tiny): the loss reaches the video
    backbone (STAN and CLIP's vision tower), the text tower stays frozen and unchanged by
    an optimizer step, and a 2-view test gives one score per class."""
    torch.manual_seed(0)
    model = _tiny_mugstan_k400(tiny_arch, NAMES[:3])
    assert model.cls_head.scoring == 'mug'
    text_before = {k: v.clone() for k, v in model.cls_head.text_encoder.state_dict().items()}
    video = torch.rand(2, 1, 3, 4, 32, 32) * 255
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    data = model.data_preprocessor(dict(inputs=list(video), data_samples=samples), training=True)
    model.train()
    loss = model(**data, mode='loss')['loss_cls']
    assert torch.isfinite(loss)
    loss.backward()
    assert model.backbone.stan.temporal_pos.grad is not None
    assert model.backbone.stan.temporal_pos.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.backbone.clip.parameters())
    text_params = list(model.cls_head.text_encoder.parameters())
    assert text_params and all(not p.requires_grad and p.grad is None for p in text_params)
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0).step()
    for k, v in model.cls_head.text_encoder.state_dict().items():
        torch.testing.assert_close(v, text_before[k], msg=k)

    model.eval()
    views = torch.rand(2, 2, 3, 4, 32, 32) * 255   # 2 videos x 2 views
    with torch.no_grad():
        preds = model(**model.data_preprocessor(dict(inputs=list(views), data_samples=samples)),
                      mode='predict')
    assert [p.pred_score.shape for p in preds] == [(3,), (3,)]
    assert all(torch.isclose(p.pred_score.sum(), torch.tensor(1.0)) for p in preds)


def test_text_tower_stays_in_eval_mode(tiny_arch):
    head = TextClassHead(['left', 'right'], arch=tiny_arch).train()
    assert head.training and not head.text_encoder.training


def test_label_maps(tmp_path, shared_data):
    plain = tmp_path / 'plain.txt'
    plain.write_text('abseiling\nair drumming\n')
    numbered = tmp_path / 'numbered.txt'
    numbered.write_text('0 abseiling\n1 air drumming\n')
    assert read_class_names(str(plain)) == read_class_names(str(numbered)) == [
        'abseiling', 'air drumming']
    assert len(read_class_names(f'{shared_data}/label_maps/k400.txt')) == 400
    assert len(read_class_names(f'{shared_data}/label_maps/sthv2.txt')) == 174
    with pytest.raises(UserError, match='label map not found'):
        read_class_names(str(tmp_path / 'nope.txt'))


def test_class_names_are_read_as_words():
    """Label-map identifiers reach the text tower as natural words; names that are already
    words are read as written."""
    assert class_name_text('brush_hair') == 'brush hair'
    assert class_name_text('ApplyEyeMakeup') == 'apply eye makeup'
    assert class_name_text('YoYo') == 'yo yo'
    assert class_name_text('PlayingDaf') == 'playing daf'
    assert class_name_text('passing American football (in game)') == \
        'passing American football (in game)'
    assert class_name_text('Pushing something from left to right') == \
        'Pushing something from left to right'


@pytest.mark.parametrize('dataset,changed', [('ucf101', 101), ('hmdb51', 14), ('k400', 0),
                                             ('sthv2', 0)])
def test_real_label_maps_reach_the_text_tower_as_words(shared_data, dataset, changed):
    """On mmaction2's real label maps: UCF101's CamelCase and HMDB51's underscores become
    lower-case words; K400 and SSv2 names (already words) are unchanged; the number and
    order of classes never change."""
    names = read_class_names(f'{shared_data}/label_maps/{dataset}.txt')
    words = [class_name_text(n) for n in names]
    assert len(words) == len(names) and len(set(words)) == len(names)
    assert sum(a != b for a, b in zip(names, words)) == changed
    if changed:
        assert all(w == w.lower() and '_' not in w for w in words)
        for name, word in zip(names, words):  # the same letters, only spacing and case
            assert word.replace(' ', '') == name.replace('_', '').lower()


def test_head_tokenizes_the_words_and_keeps_the_names(tiny_arch):
    head = TextClassHead(['brush_hair', 'ApplyEyeMakeup'], arch=tiny_arch, scoring='global')
    assert head.class_names == ['brush_hair', 'ApplyEyeMakeup']
    expected = open_clip.tokenize(['brush hair', 'apply eye makeup'], context_length=32)
    assert torch.equal(head.class_tokens, expected)
