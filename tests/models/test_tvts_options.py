"""TVTSv2's recipe pieces as options of mmstan's models ([V] = TVTSv2, seed 004):
partial text freezing (§3.2: the first three quarters of the text layers), zero-initialised
temporal attention with the [CLS] attended (§3.1, App. C, Tab. 6), and the config that
trains STAN with them (tube masking is tested in test_tube_mask.py)."""
import math

import open_clip
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from conftest import ROOT, TINY_ARCH
from mmstan.models.backbones import CLIPSTAN, TemporalAttention
from mmstan.models.clip import CLIPText, load_clip

#: The tiny CLIP with a 4-layer text tower, so that "the first 3/4" is 3 layers.
FOUR_TEXT_LAYERS = dict(TINY_ARCH, text_cfg=dict(TINY_ARCH['text_cfg'], layers=4))

#: A tiny CoCa: its text tower has an appended [CLS] embedding (``cls_emb``).
TINY_COCA = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=2, head_width=32, mlp_ratio=2.0,
                    attentional_pool=True, attn_pooler_heads=2, output_tokens=True),
    text_cfg=dict(context_length=24, vocab_size=49408, width=64, heads=2, layers=4,
                  embed_cls=True, output_tokens=True),
    multimodal_cfg=dict(context_length=24, width=64, heads=2, layers=1))


def _retriever(frozen: int):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='VideoTextRetriever', clip=dict(arch=FOUR_TEXT_LAYERS), text_frozen_layers=frozen,
        backbone=dict(type='CLIPSTAN', num_frames=2, num_layers=2, drop_path_rate=0.0),
        head=dict(type='MeanPHead')))


def _batch():
    g = torch.Generator().manual_seed(1)
    text = torch.randint(1, 4000, (3, 8), generator=g)
    text[:, -1] = 49407  # end-of-text
    return dict(imgs=torch.randn(3, 1, 3, 2, 32, 32, generator=g), text=text)


def _expected_frozen(names, frozen: int):
    """open_clip's names of the text embeddings and of text blocks ``0..frozen-1``
    (nothing for ``frozen=0``)."""
    if frozen == 0:
        return set()
    embeddings = ('token_embedding.', 'positional_embedding', 'cls_emb')
    blocks = tuple(f'transformer.resblocks.{i}.' for i in range(frozen))
    return {n for n in names if n.startswith(embeddings + blocks)}


@pytest.mark.parametrize('frozen', [0, 3, 4])
def test_text_frozen_layers_stop_exactly_embeddings_and_first_blocks(frozen):
    model = _retriever(frozen).train()
    losses = model(_batch(), mode='loss')
    sum(losses.values()).backward()
    text = {n[len('text_encoder.text.'):]: p for n, p in model.named_parameters()
            if n.startswith('text_encoder.text.')}
    assert any(n.startswith('transformer.resblocks.3.') for n in text)  # 4 text blocks
    frozen_names = _expected_frozen(text, frozen)
    assert frozen == 0 or frozen_names  # the expected set is not empty
    for name, param in text.items():
        if name in frozen_names:
            assert not param.requires_grad and param.grad is None, name
        else:
            assert param.requires_grad and param.grad is not None and param.grad.abs().sum() > 0, name
    backbone = [p for n, p in model.named_parameters() if n.startswith('backbone.')]
    assert all(p.grad is not None for p in backbone if p.requires_grad)


def test_frozen_text_layers_do_not_move_under_adamw_with_weight_decay():
    model = _retriever(3).train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters()], lr=1e-2, weight_decay=0.05)
    sum(model(_batch(), mode='loss').values()).backward()
    optimizer.step()
    text = [n[len('text_encoder.text.'):] for n in before if n.startswith('text_encoder.text.')]
    frozen = {'text_encoder.text.' + n for n in _expected_frozen(text, 3)}
    for name, param in model.named_parameters():
        if name in frozen:
            assert torch.equal(param, before[name]), name
        elif name.startswith('text_encoder.text.transformer.resblocks.3.'):
            assert not torch.equal(param, before[name]), name


def test_whole_text_tower_frozen_with_minus_one():
    model = _retriever(-1)
    assert not any(p.requires_grad for n, p in model.named_parameters() if n.startswith('text_encoder.'))
    assert all(p.requires_grad for n, p in model.named_parameters() if n.startswith('backbone.stan.'))


def test_coca_text_tower_freezes_its_cls_embedding_too():
    torch.manual_seed(0)
    text = CLIPText(load_clip(TINY_COCA), frozen_layers=3)
    tokens = torch.randint(1, 4000, (2, 6))
    pooled, per_token, _ = text(tokens)
    (pooled.sum() + per_token.sum()).backward()
    params = dict(text.text.named_parameters())
    frozen = _expected_frozen(params, 3)
    assert 'cls_emb' in frozen
    for name, param in params.items():
        assert (param.grad is None) == (name in frozen), name


@pytest.mark.parametrize('init', ['zero_proj', 'zero_qkv'])
@pytest.mark.parametrize('attend_cls', [False, True])
def test_temporal_attention_is_the_identity_at_init(init, attend_cls):
    torch.manual_seed(0)
    module = TemporalAttention(64, 2, init=init, attend_cls=attend_cls)
    patches, cls = torch.randn(2, 5, 3, 64), torch.randn(2, 64)
    out = module(patches, cls) if attend_cls else module(patches)
    torch.testing.assert_close(out, patches, atol=0, rtol=0)


def _first_grads(module: TemporalAttention):
    patches = torch.randn(2, 5, 3, 64)
    (module(patches) * torch.randn(2, 5, 3, 64)).sum().backward()
    d = 64
    q, k, v = module.qkv.weight.grad.split(d)
    return q.abs().sum(), k.abs().sum(), v.abs().sum(), module.proj.weight.grad.abs().sum()


def test_which_weights_learn_first_under_each_init():
    """The chain rule through ``y + proj(softmax(q k^T) v)`` at initialisation:

    - ``zero_proj`` ([M] eq. 9): only ``W_proj`` gets a gradient (q, k, v sit behind
      ``W_proj = 0``);
    - ``zero_qkv`` (values zero, q, k, ``W_proj`` random): only the value weights do
      (the attention output is 0, so ``W_proj``'s gradient is 0, and q and k only
      matter through v = 0);
    - every parameter zero (the paper's words read literally): no weight ever gets a
      gradient.
    """
    torch.manual_seed(0)
    q, k, v, proj = _first_grads(TemporalAttention(64, 2, init='zero_proj'))
    assert q == k == v == 0 and proj > 0
    q, k, v, proj = _first_grads(TemporalAttention(64, 2, init='zero_qkv'))
    assert q == k == proj == 0 and v > 0
    module = TemporalAttention(64, 2, init='zero_qkv')
    torch.nn.init.zeros_(module.qkv.weight)
    torch.nn.init.zeros_(module.qkv.bias)
    torch.nn.init.zeros_(module.proj.weight)
    assert all(g == 0 for g in _first_grads(module))
    with pytest.raises(ValueError, match='zero_proj'):
        TemporalAttention(64, 2, init='random')


def _train(module: TemporalAttention, steps: int) -> None:
    """A few AdamW steps regressing the module's output onto random targets."""
    torch.manual_seed(1)
    patches, target = torch.randn(2, 5, 3, 64), torch.randn(2, 5, 3, 64)
    optim = torch.optim.AdamW(module.parameters(), lr=1e-2)
    for _ in range(steps):
        optim.zero_grad()
        (module(patches) - target).pow(2).mean().backward()
        optim.step()


@pytest.mark.parametrize('init', ['zero_proj', 'zero_qkv'])
def test_every_temporal_weight_moves_within_a_few_steps(init):
    """Both inits leave every weight trainable: after 3 AdamW steps q, k, v, the output
    projection and all biases have moved. The released TVTSv2 init (q = k = v = 0,
    ``W_proj`` = ones) fails this: ``dL/dW_q`` is proportional to ``W_k`` and vice versa,
    so both stay exactly zero (attention uniform forever), and every column of the
    all-ones ``W_proj`` gets the same update, so it stays rank-1."""
    torch.manual_seed(0)
    module = TemporalAttention(64, 2, init=init)
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    _train(module, 3)
    d = 64
    for name, param in module.named_parameters():
        parts = param.split(d) if name.startswith('qkv') else [param]
        for part, old in zip(parts, before[name].split(d) if name.startswith('qkv') else [before[name]]):
            assert not torch.equal(part, old), f'{name} did not move'
    q, k, _ = module.qkv.weight.split(d)
    assert q.abs().max() > 0 and k.abs().max() > 0


def test_released_tvts_init_never_learns_attention():
    """The released code's init, trained the same way: q and k stay exactly zero and the
    projection's columns stay identical (why ``zero_qkv`` zeroes only the values)."""
    torch.manual_seed(0)
    module = TemporalAttention(64, 2, init='zero_proj')
    torch.nn.init.zeros_(module.qkv.weight)
    torch.nn.init.zeros_(module.qkv.bias)
    torch.nn.init.ones_(module.proj.weight)
    _train(module, 20)
    q, k, _ = module.qkv.weight.split(64)
    assert q.abs().max() == 0 and k.abs().max() == 0
    proj = module.proj.weight  # all columns equal: rank 1
    assert (proj - proj[:, :1]).abs().max() == 0


def test_attend_cls_adds_the_video_cls_as_a_key_of_every_position():
    """Per patch position, by hand: softmax over ``[CLS, frame 1..T]`` keys."""
    torch.manual_seed(0)
    d, heads, t, n = 64, 2, 4, 3
    module = TemporalAttention(d, heads, attend_cls=True)
    for param in module.parameters():
        torch.nn.init.normal_(param, std=0.2)
    patches, cls = torch.randn(2, t, n, d), torch.randn(2, d)
    out = module(patches, cls)
    hd = d // heads
    w_q, w_k, w_v = module.qkv.weight.split(d)
    b_q, b_k, b_v = module.qkv.bias.split(d)
    for b in range(2):
        for pos in range(n):
            seq = module.norm(torch.cat([cls[b:b + 1], patches[b, :, pos]]))  # [1+T, D]
            q = (seq[1:] @ w_q.T + b_q).reshape(t, heads, hd)
            k = (seq @ w_k.T + b_k).reshape(1 + t, heads, hd)
            v = (seq @ w_v.T + b_v).reshape(1 + t, heads, hd)
            weights = torch.einsum('qhd,khd->hqk', q, k).div(math.sqrt(hd)).softmax(-1)
            attn = torch.einsum('hqk,khd->qhd', weights, v).reshape(t, d)
            expected = patches[b, :, pos] + module.proj(attn)
            torch.testing.assert_close(out[b, :, pos], expected, atol=1e-5, rtol=1e-5)
    plain = TemporalAttention(d, heads)
    plain.load_state_dict(module.state_dict())
    assert not torch.allclose(plain(patches), out)  # the [CLS] key changes the result


def test_clip_stan_options_reach_every_layer_and_conv_refuses_them(tiny_arch):
    model = CLIPSTAN(tiny_arch, num_frames=2, num_layers=2, temporal_init='zero_qkv', temporal_cls=True)
    for layer in model.stan.layers:
        assert layer.temporal.attend_cls
        width = layer.temporal.proj.weight.shape[0]
        q, k, v = layer.temporal.qkv.weight.split(width)
        assert v.abs().sum() == 0 and layer.temporal.qkv.bias[2 * width:].abs().sum() == 0
        assert q.abs().sum() > 0 and k.abs().sum() > 0 and layer.temporal.proj.weight.abs().sum() > 0
    for bad in (dict(temporal_init='zero_qkv'), dict(temporal_cls=True)):
        with pytest.raises(ValueError, match="temporal_module='attention'"):
            CLIPSTAN(tiny_arch, num_layers=2, temporal_module='conv', **bad)


def test_tvts_config_sets_the_papers_values():
    cfg = Config.fromfile(f'{ROOT}/configs/stan/msrvtt_tvts.py')
    text_layers = open_clip.get_model_config(cfg.model.clip.arch)['text_cfg']['layers']
    assert cfg.model.text_frozen_layers == text_layers * 3 // 4  # [V] §3.2, Tab. 8 "1-9"
    backbone = cfg.model.backbone
    assert backbone.temporal_init == 'zero_qkv' and backbone.temporal_cls
    # [V] §4.1: no masking for B/32, 50% for B/16, 70% for H/14
    assert backbone.tube_mask_ratio == {'ViT-B-32': 0.0, 'ViT-B-16': 0.5,
                                        'ViT-H-14': 0.7}[cfg.model.clip.arch]
    plain = Config.fromfile(f'{ROOT}/configs/stan/msrvtt.py')
    assert cfg.train_dataloader.batch_size == plain.train_dataloader.batch_size
