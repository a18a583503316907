"""Official STAN / Mug-STAN checkpoints (github farewellthree/STAN) convert into mmstan and
reproduce the official forward pass.

The official-layout state dict and the reference forward come from tests/official_layout.py,
written from the official classes' attribute names and equations with plain torch ops
(nothing from mmstan), so a wrong key mapping or a wrong embedding shows as a mismatch.
"""
import open_clip
import pytest
import torch
from official_layout import (
    ARCH,
    CONTEXT,
    DEPTH,
    EMBED,
    TIME_ROWS,
    official_state,
    official_text,
    official_video,
)

from mmstan.models.backbones import CLIPSTAN
from mmstan.models.official_checkpoint import convert_official_backbone, convert_official_retriever

TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.fixture(scope='module')
def state():
    return official_state()


def official_backbone(num_frames=4, **kwargs):
    return CLIPSTAN(ARCH, num_frames=num_frames, num_layers=DEPTH, preset='official', **kwargs)


def token_ids(lengths=(5, 12, CONTEXT)):
    """Start token, random words, end token (the largest id, as CLIP's EOT), zero padding."""
    g = torch.Generator().manual_seed(1)
    ids = torch.zeros(len(lengths), CONTEXT, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(1, 49000, (n,), generator=g)
        ids[row, 0], ids[row, n - 1] = 49406, 49407
    return ids


def test_official_layout_converts_without_unmatched_keys(state):
    converted, unmatched = convert_official_retriever(state)
    assert unmatched == []
    assert {k.split('.')[0] for k in converted} == {'backbone', 'text_encoder'}  # Mug head: no parameters
    backbone, unmatched, skipped = convert_official_backbone(state)
    assert unmatched == []
    assert sorted(skipped) == sorted(k for k in state if not k.startswith('backbone.'))
    assert backbone.keys() == {k[len('backbone.'):] for k in converted if k.startswith('backbone.')}
    # the merged temporal projection: temporal_fc(out_proj(a)) = W_fc W_out a + W_fc b_out + b_fc
    t = 'backbone.STAN_T_layers.1.'
    torch.testing.assert_close(backbone['stan.layers.1.temporal.proj.weight'],
                               state[t + 'temporal_fc.weight'] @ state[t + 'self_attn.out_proj.weight'])
    torch.testing.assert_close(backbone['clip.visual.proj'], state['backbone.visual_projection.weight'].T)


@pytest.mark.parametrize('frames', [4, 6])
def test_converted_backbone_reproduces_official_forward(state, frames):
    """Frame embeddings of CLIPSTAN(preset='official') == the official forward; 6 frames on a
    model built for 4 read rows 0..5 of the 64-row time table, as the official code does."""
    converted, _, _ = convert_official_backbone(state)
    model = official_backbone().eval()
    model.load_state_dict(converted, strict=True)
    video = torch.randn(2, 3, frames, 32, 32, generator=torch.Generator().manual_seed(frames))
    with torch.no_grad():
        ours = model(video)
        reference = official_video(state, video)
    assert ours.shape == reference.shape == (2, frames, EMBED)
    torch.testing.assert_close(ours, reference, **TOL)
    torch.testing.assert_close(ours.mean(1), reference.mean(1), **TOL)  # STAN's return_mean output


def test_class_embedding_on_patches_would_be_caught(state):
    """The earlier converter added CLIP's class embedding to every patch: the reference sees it."""
    converted, _, _ = convert_official_backbone(state)
    converted['stan.spatial_pos'] = converted['stan.spatial_pos'] + state['backbone.class_embedding']
    model = official_backbone().eval()
    model.load_state_dict(converted)
    video = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        diff = (model(video) - official_video(state, video)).abs().max()
    assert diff > 1e-3


def test_official_input_style_initialises_like_input_ini():
    """input_ini adds pos[1:] (not the class embedding) to patches, averages the video [CLS]
    with class_emb + pos[0], and reads frame t from row t of nn.Embedding(64, D)."""
    model = official_backbone(num_frames=8)
    visual = model.clip.visual
    assert torch.equal(model.stan.spatial_pos, visual.positional_embedding[1:])
    torch.testing.assert_close(model.stan.cls_embed, visual.class_embedding + visual.positional_embedding[0])
    assert model.stan.temporal_pos.shape == (TIME_ROWS, 64)
    level = torch.zeros(2 * 3, 17, 64)
    _, patches = model.stan.embed_input(level, 3)
    torch.testing.assert_close(patches[0, 2, 5], model.stan.spatial_pos[5] + model.stan.temporal_pos[2])
    with pytest.raises(ValueError, match='at most 64 frames'):
        model.stan.embed_input(torch.zeros(65, 17, 64), 65)


def test_converted_text_tower_reproduces_official_forward(state):
    """HF CLIPTextTransformer (causal mask, argmax pooling, all tokens projected) == open_clip
    with the converted weights, and == mmstan's CLIPText on that open_clip model."""
    from mmstan.models.clip import CLIPText
    converted, _ = convert_official_retriever(state)
    text = {k[len('text_encoder.text.'):]: v for k, v in converted.items() if k.startswith('text_encoder.')}
    clip = open_clip.CLIP(**ARCH).eval()
    missing, unexpected = clip.load_state_dict(text, strict=False)
    assert unexpected == [] and [k for k in missing if not k.startswith('visual.')] == ['logit_scale']
    ids = token_ids()
    with torch.no_grad():
        ref_tokens, ref_pooled = official_text(state, ids)
        torch.testing.assert_close(clip.encode_text(ids), ref_pooled, **TOL)
        pooled, tokens, mask = CLIPText(clip_model=clip)(ids)
    torch.testing.assert_close(pooled, ref_pooled, **TOL)
    torch.testing.assert_close(tokens[mask], ref_tokens[mask], **TOL)


def test_converted_retriever_loads_strictly_and_matches(state):
    from mmstan.models.retrievers import VideoTextRetriever
    converted, _ = convert_official_retriever(state)
    model = VideoTextRetriever(
        clip=dict(arch=ARCH),
        backbone=dict(type='CLIPSTAN', preset='official', num_layers=DEPTH, num_frames=4),
        head=dict(type='MugHead', mode='mug', embed_dim=EMBED)).eval()
    missing, unexpected = model.load_state_dict(converted, strict=False)
    assert unexpected == [] and missing == ['log_logit_scale']  # the config's 1 / tau
    video, ids = torch.randn(2, 3, 4, 32, 32), token_ids()
    with torch.no_grad():
        torch.testing.assert_close(model.encode_video(video), official_video(state, video), **TOL)
        torch.testing.assert_close(model.encode_text(ids)[0], official_text(state, ids)[1], **TOL)


def test_unknown_missing_and_legacy_keys(state):
    extra = dict(state, **{'adapter.text_weight_fc.weight': torch.zeros(1, EMBED),
                           'backbone.STAN_pos_embed.weight': torch.zeros(17, 64)})
    _, unmatched = convert_official_retriever(extra)
    assert unmatched == ['adapter.text_weight_fc.weight', 'backbone.STAN_pos_embed.weight']
    _, unmatched, skipped = convert_official_backbone(extra)
    assert unmatched == ['backbone.STAN_pos_embed.weight'] and 'adapter.text_weight_fc.weight' in skipped
    # transformers < 4.31 saved the text position ids buffer: an index, not a weight
    ids = {'text_backbone.text_model.embeddings.position_ids': torch.arange(CONTEXT)[None]}
    assert convert_official_retriever(dict(state, **ids))[1] == []
    missing = {k: v for k, v in state.items() if k != 'backbone.STAN_time_embed.weight'}
    with pytest.raises(KeyError, match='backbone.STAN_time_embed.weight'):
        convert_official_retriever(missing)
    # HF CLIPVisionModel naming (what an earlier converter expected) is not the official layout
    legacy = {k.replace('backbone.class_embedding', 'backbone.embeddings.class_embedding'): v
              for k, v in state.items()}
    with pytest.raises(KeyError, match='backbone.class_embedding'):
        convert_official_backbone(legacy)
