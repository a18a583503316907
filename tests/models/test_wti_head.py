"""WTIHead (DRL's weighted token interaction) against DRL's formula written per pair,
``(Σ_j a_j max_i G[j, i] + Σ_i b_i max_j G[j, i]) / 2`` with ``G[j, i] = c_j · v_i`` and
softmax token / frame weights ``a = softmax_j(MLP_t(c_j))``, ``b = softmax_i(MLP_v(v_i))``
(MLPs evaluated by hand from the head's parameters); its bounded gallery; the parameter
names of the former ``MugHead(mode='wti')``; ``drop_sot``."""
import torch
from head_inputs import check_drop_sot, inputs
from mmaction.registry import MODELS

from mmstan.models.heads import WTIHead

E = 16
#: the parameters of a checkpoint of ``MugHead(mode='wti', embed_dim=E)`` (two MLPs
#: Linear(E, E), ReLU, Linear(E, 1)), key by key
FORMER_WTI_KEYS = {f'{side}_weight.{layer}.{name}': shape
                   for side in ('text', 'video')
                   for layer, name, shape in ((0, 'weight', (E, E)), (0, 'bias', (E,)),
                                              (2, 'weight', (1, E)), (2, 'bias', (1,)))}


def former_checkpoint(seed=0):
    """A state dict as ``MugHead(mode='wti')`` saved it, with weights far from the init
    (token / frame weights far from uniform)."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g, dtype=torch.float64) * (3.0 if k.endswith('2.weight') else 0.5)
            for k, shape in FORMER_WTI_KEYS.items()}


def mlp(params, side, x):
    """``Linear -> ReLU -> Linear`` of one token / frame vector, by hand."""
    hidden = (params[f'{side}_weight.0.weight'] @ x + params[f'{side}_weight.0.bias']).clamp(min=0)
    return (params[f'{side}_weight.2.weight'] @ hidden + params[f'{side}_weight.2.bias'])[0]


def unit(x):
    return x / x.dot(x).sqrt()


def drl_wti(params, tokens, frames):
    """DRL's WTI for one pair: tokens ``[K, E]`` (real ones only), frames ``[T, E]``."""
    c, v = [unit(x) for x in tokens], [unit(x) for x in frames]
    a = torch.softmax(torch.stack([mlp(params, 'text', x) for x in c]), 0)
    b = torch.softmax(torch.stack([mlp(params, 'video', x) for x in v]), 0)
    t2v = sum(a[j] * max(c[j].dot(v[i]) for i in range(len(v))) for j in range(len(c)))
    v2t = sum(b[i] * max(c[j].dot(v[i]) for j in range(len(c))) for i in range(len(v)))
    return (t2v + v2t) / 2


def test_score_is_drl_wti_per_pair_and_former_checkpoints_load():
    tokens, mask, pooled, frames = inputs(seed=8, e=E, min_len=1)
    head = WTIHead(embed_dim=E).double()
    params = former_checkpoint()
    head.load_state_dict(params)  # strict: exactly the former MugHead('wti') keys
    assert set(head.state_dict()) == set(FORMER_WTI_KEYS)
    got = head(tokens, mask, pooled, frames)
    uniform = []
    for a in range(tokens.shape[0]):
        for b in range(frames.shape[0]):
            expected = drl_wti(params, tokens[a][mask[a]], frames[b])
            assert abs(got[a, b] - expected) <= 1e-12, (a, b)
            g = torch.nn.functional.normalize(tokens[a][mask[a]], dim=-1) @ \
                torch.nn.functional.normalize(frames[b], dim=-1).T
            uniform.append(abs(expected - (g.max(1).values.mean() + g.max(0).values.mean()) / 2))
    assert max(uniform) > 1e-2   # the learned weights matter here


def test_gallery_in_bounded_text_chunks_equals_forward():
    tokens, mask, pooled, frames = inputs(m=11, n=5, seed=3, e=E)
    head = WTIHead(embed_dim=E, block_elements=3 * 5 * 6 * 7).double()
    head.load_state_dict(former_checkpoint(1))
    chunks = []
    head.register_forward_pre_hook(lambda module, args: chunks.append(args[0].shape[0]))
    got = head.gallery(tokens, mask, pooled, frames)
    assert chunks == [3, 3, 3, 2]   # [texts, videos, K, T] cosines of at most the budget
    chunks.clear()
    torch.testing.assert_close(got, head(tokens, mask, pooled, frames), atol=1e-12, rtol=0)
    for a in range(tokens.shape[0]):
        for b in range(frames.shape[0]):
            assert abs(got[a, b] - drl_wti(head.state_dict(), tokens[a][mask[a]], frames[b])) <= 1e-12


def test_trains_its_weights():
    tokens, mask, pooled, frames = inputs(seed=4, e=E, dtype=torch.float32)
    head = MODELS.build(dict(type='WTIHead', embed_dim=E))
    head(tokens, mask, pooled, frames).diagonal().sum().backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_drop_sot_leaves_position_zero_out():
    tokens, mask, pooled, frames = inputs(seed=10, min_len=3, e=E)
    head = WTIHead(embed_dim=E, drop_sot=True).double()
    head.load_state_dict(former_checkpoint(2))
    _, without = check_drop_sot(head, WTIHead(embed_dim=E).double(), tokens, mask, pooled, frames)
    # the stage-1 text vectors read the same tokens
    torch.testing.assert_close(head.stage1_text(tokens, mask, pooled),
                               head.stage1_text(tokens, without, pooled), atol=1e-12, rtol=0)


def test_stage_one_is_the_weighted_means():
    """Stage 1: ``(Σ_j a_j c_j) · (Σ_i b_i v_i)``, each max replaced by the other side's
    weighted mean, so never above the score."""
    tokens, mask, pooled, frames = inputs(seed=5, e=E)
    head = WTIHead(embed_dim=E).double()
    params = former_checkpoint(3)
    head.load_state_dict(params)
    text, video = head.stage1_text(tokens, mask, pooled), head.stage1_video(frames)
    scores = head(tokens, mask, pooled, frames)
    for a in range(tokens.shape[0]):
        c = [unit(x) for x in tokens[a][mask[a]]]
        weights = torch.softmax(torch.stack([mlp(params, 'text', x) for x in c]), 0)
        torch.testing.assert_close(text[a].double(), sum(w * x for w, x in zip(weights, c)),
                                   atol=1e-12, rtol=0)
    for b in range(frames.shape[0]):
        v = [unit(x) for x in frames[b]]
        weights = torch.softmax(torch.stack([mlp(params, 'video', x) for x in v]), 0)
        torch.testing.assert_close(video[b].double(), sum(w * x for w, x in zip(weights, v)),
                                   atol=1e-12, rtol=0)
    assert ((text @ video.T).double() <= scores + 1e-6).all()
