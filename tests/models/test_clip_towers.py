"""The open_clip adapters against open_clip's own outputs, for CLIP and CoCa.

Expected values come from open_clip's public ``encode_text`` / ``encode_image`` and
``forward_intermediates``; mmstan's towers take other code paths (a ``TextTransformer``
shell around a plain CLIP's text parts, CoCa's tower called through
``forward_intermediates``, the vision tokens re-pooled by ``project``).
"""
import open_clip
import pytest
import torch
import torch.nn.functional as F

from mmstan.models.clip import CLIPText, CLIPVision, load_clip

#: A tiny CoCa: attentional pooler on the vision side, appended [CLS] on the text side.
TINY_COCA = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=2, head_width=32, mlp_ratio=2.0,
                    attentional_pool=True, attn_pooler_heads=2, output_tokens=True),
    text_cfg=dict(context_length=24, vocab_size=49408, width=64, heads=2, layers=2,
                  embed_cls=True, output_tokens=True),
    multimodal_cfg=dict(context_length=24, width=64, heads=2, layers=1))

#: Captions of very different lengths, so most rows are mostly padding.
CAPTIONS = ['a red circle moving left across the frame', 'up', 'a dog', 'blue square']


def _arches(tiny_arch):
    return {'clip': tiny_arch, 'coca': TINY_COCA}


@pytest.fixture(params=['clip', 'coca'])
def model(request, tiny_arch):
    torch.manual_seed(0)
    model = load_clip(_arches(tiny_arch)[request.param]).eval()
    if request.param == 'coca':  # random init leaves CoCa's [CLS] at zero-ish: make it count
        torch.nn.init.normal_(model.text.cls_emb, std=1.0)
    return model


def _token_outputs(model, tokens):
    """open_clip's own last-layer token outputs, final LN and text projection applied."""
    if hasattr(model, 'text'):  # CoCa: the tower returns (pooled, un-normalised tokens)
        _, seq = model.text(tokens)
        seq = model.text.ln_final(seq)
        proj = model.text.text_projection
    else:
        out = model.forward_intermediates(text=tokens, text_indices=1, normalize_intermediates=True,
                                          intermediates_only=True)
        seq, proj = out['text_intermediates'][0], model.text_projection
    return seq @ proj if isinstance(proj, torch.Tensor) else proj(seq)


def test_text_pooled_and_tokens_equal_open_clip_on_padded_captions(model):
    text = CLIPText(model).eval()
    tokens = open_clip.tokenize(CAPTIONS, context_length=text.context_length)
    assert (tokens == 0).sum() > tokens.numel() // 2  # mostly padding
    with torch.no_grad():
        pooled, per_token, mask = text(tokens)
        torch.testing.assert_close(pooled, model.encode_text(tokens, normalize=False), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(per_token, _token_outputs(model, tokens), atol=1e-5, rtol=1e-5)
    assert mask.tolist() == (tokens != 0).tolist()


def test_clip_pooled_is_the_end_of_text_token(tiny_arch):
    text = CLIPText(load_clip(tiny_arch)).eval()
    tokens = open_clip.tokenize(CAPTIONS, context_length=32)
    with torch.no_grad():
        pooled, per_token, _ = text(tokens)
    eot = tokens.argmax(dim=-1)  # open_clip's EOT has the largest id
    torch.testing.assert_close(per_token[torch.arange(len(CAPTIONS)), eot], pooled)


def test_vision_project_of_last_tokens_is_open_clips_image_embedding(model):
    vision = CLIPVision(model).eval()
    frames = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        last, (first,) = vision(frames, collect=[0])
        torch.testing.assert_close(vision.project(last), model.encode_image(frames, normalize=False),
                                   atol=1e-5, rtol=1e-5)
        out = model.visual.forward_intermediates(frames, indices=[0], output_fmt='NLC',
                                                 output_extra_tokens=True, intermediates_only=True)
    torch.testing.assert_close(first[:, 1:], out['image_intermediates'][0])
    torch.testing.assert_close(first[:, :1], out['image_intermediates_prefix'][0])


def test_frozen_text_layers(tiny_arch):
    text = CLIPText(load_clip(tiny_arch), frozen_layers=1)
    tower = text.text
    assert not tower.token_embedding.weight.requires_grad
    assert not tower.positional_embedding.requires_grad
    assert not any(p.requires_grad for p in tower.transformer.resblocks[0].parameters())
    assert all(p.requires_grad for p in tower.transformer.resblocks[1].parameters())
    assert tower.text_projection.requires_grad and tower.ln_final.weight.requires_grad
    everything = CLIPText(load_clip(tiny_arch), frozen_layers=-1)
    assert not any(p.requires_grad for p in everything.parameters())


def test_frozen_layers_get_no_gradient_but_the_rest_do(tiny_arch):
    text = CLIPText(load_clip(tiny_arch), frozen_layers=1)
    pooled, _, _ = text(open_clip.tokenize(CAPTIONS, context_length=32))
    pooled.sum().backward()
    blocks = text.text.transformer.resblocks
    assert all(p.grad is None for p in blocks[0].parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in blocks[1].parameters()
               if p.dim() > 1)


def test_named_coca_architecture_builds_both_towers():
    model = load_clip('coca_ViT-B-32').eval()
    text, vision = CLIPText(model), CLIPVision(model)
    with torch.no_grad():
        pooled, tokens, _ = text(open_clip.tokenize(['a dog'], context_length=text.context_length))
        last, _ = vision(torch.randn(1, 3, 224, 224))
    assert pooled.shape == (1, 512) and tokens.shape == (1, text.context_length, 512)
    assert F.normalize(vision.project(last), dim=-1).shape == (1, 512)


def test_shorter_token_sequences_give_the_same_outputs(tiny_arch):
    """Configs tokenize to 32 tokens for a 77-token CLIP: the causal tower's first 32
    outputs (and the EOT pooling) must equal open_clip's on the zero-padded full length."""
    model = load_clip(tiny_arch).eval()
    text = CLIPText(model).eval()
    short = open_clip.tokenize(CAPTIONS, context_length=12)
    full = open_clip.tokenize(CAPTIONS, context_length=32)
    with torch.no_grad():
        pooled, tokens, mask = text(short)
        torch.testing.assert_close(pooled, model.encode_text(full), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(tokens, _token_outputs(model, full)[:, :12], atol=1e-5, rtol=1e-5)
    assert tokens.shape == (len(CAPTIONS), 12, 64) and mask.shape == (len(CAPTIONS), 12)
