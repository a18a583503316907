"""CLIP2Video: the Temporal Difference Block (eqs. 1-2) and the Temporal Alignment Block
(eqs. 3-6) on small hand-checked inputs, the head against the paper's steps written out
token by token with open_clip's own text layers, and the loss / score mix (§3.3)."""
import math

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import nn

from mmstan.models.clip.text import text_tower
from mmstan.models.heads import CLIP2VideoHead, TemporalAlignmentBlock, TemporalDifferenceBlock
from mmstan.models.heads.temporal_difference_block import DIFFERENCE, FRAME

T = math.tanh(0.5)  # 2 σ(1) - 1 = tanh(1/2)


def _tower(tiny_arch, text_layers=4):
    arch = dict(tiny_arch, text_cfg=dict(tiny_arch['text_cfg'], layers=text_layers))
    torch.manual_seed(0)
    return text_tower(open_clip.CLIP(**arch).eval())


# ---- TDB ---------------------------------------------------------------------------

def _identity_tdb():
    tdb = TemporalDifferenceBlock(nn.Identity(), width=2)  # δ = identity, LN weight 1 bias 0
    with torch.no_grad():
        tdb.type_embedding[FRAME] = torch.tensor([100.0, 0.0])
        tdb.type_embedding[DIFFERENCE] = torch.tensor([0.0, 100.0])
    return tdb


def test_tdb_differences_by_hand():
    """Eq. 1 with δ = identity: LN of a 2-vector (a, b) is ±(1, -1) (or 0 when a = b),
    and 2 σ(±1) - 1 = ±tanh(1/2)."""
    tdb = _identity_tdb()
    frames = torch.tensor([[[0.0, 0.0], [3.0, 1.0], [3.0, 1.0]]])
    positions = torch.tensor([[7.0, 7.0], [0.0, 2.0], [5.0, 0.0]])
    # f1 - f0 + P1 = (3, 3) -> LN 0 -> 0;  f2 - f1 + P2 = (5, 0) -> LN (1, -1) -> ±tanh(1/2)
    d = tdb.differences(frames, positions)
    torch.testing.assert_close(d, torch.tensor([[[0.0, 0.0], [T, -T]]]), atol=1e-4, rtol=0)


def test_tdb_interleaves_frames_and_differences_by_hand():
    """Eq. 2: {f0, d1, f1, d2, f2} + P + T; d_t takes the position of frame t-1."""
    tdb = _identity_tdb()
    frames = torch.tensor([[[0.0, 0.0], [3.0, 1.0], [3.0, 1.0]]])
    positions = torch.tensor([[7.0, 7.0], [0.0, 2.0], [5.0, 0.0], [9.0, 9.0]])  # a spare row
    out = tdb(frames, positions)
    expected = torch.tensor([[
        [0 + 7 + 100, 0 + 7 + 0],        # f0 + P0 + T_frame
        [0 + 7 + 0, 0 + 7 + 100],        # d1 + P0 + T_diff
        [3 + 0 + 100, 1 + 2 + 0],        # f1 + P1 + T_frame
        [T + 0 + 0, -T + 2 + 100],       # d2 + P1 + T_diff
        [3 + 5 + 100, 1 + 0 + 0],        # f2 + P2 + T_frame
    ]])
    assert out.shape == (1, 5, 2)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


def test_tdb_two_sigma_minus_one_range(tiny_arch):
    """Eq. 1's 2σ(·)-1 keeps the difference tokens in [-1, 1] for any input (CLIP text
    layer 0 as δ), and saturates towards both ends, never past them, when the LN's gain
    makes its inputs huge."""
    head = CLIP2VideoHead(_tower(tiny_arch), num_layers=1)
    frames = torch.randn(4, 12, 64) * 1000
    with torch.no_grad():
        d = head.tdb.differences(frames, head.positions)
        assert d.shape == (4, 11, 64)
        assert d.min() > -1 and d.max() < 1
        head.tdb.norm.weight.fill_(1e4)
        d = head.tdb.differences(frames, head.positions)
    assert d.min() >= -1 and d.max() <= 1
    assert d.min() < -0.999 and d.max() > 0.999


# ---- TAB ---------------------------------------------------------------------------

def _tab_by_hand():
    """K = 2 centres c = ln3 · I in 2-D: token (1, 0) gets weights (3/4, 1/4), token
    (0, 1) gets (1/4, 3/4)."""
    tab = TemporalAlignmentBlock(num_centers=2, width=2)
    with torch.no_grad():
        tab.assign_centers.copy_(math.log(3) * torch.eye(2))
        tab.residual_centers.zero_()
    return tab, torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])


def test_tab_assignment_weights_by_hand_sum_to_one_over_centres():
    tab, tokens = _tab_by_hand()
    w = tab.assignments(tokens)
    torch.testing.assert_close(w, torch.tensor([[[0.75, 0.25], [0.25, 0.75]]]))
    torch.testing.assert_close(tab.assignments(torch.randn(3, 7, 2) * 5).sum(-1), torch.ones(3, 7))


def test_tab_residual_normalisation_by_hand():
    tab, tokens = _tab_by_hand()
    # v_1 ∝ 3/4 (1,0) + 1/4 (0,1) = (3,1)/4,  v_2 ∝ (1,3)/4; each L2-normalised (eq. 4)
    v = tab.centre_embeddings(tokens)
    torch.testing.assert_close(v, torch.tensor([[[3.0, 1.0], [1.0, 3.0]]]) / math.sqrt(10))
    # GAP over the centres, then L2: (4, 4)/√10 -> (1, 1)/√2
    torch.testing.assert_close(tab(tokens), torch.tensor([[1.0, 1.0]]) / math.sqrt(2))
    # a residual centre c~_1 = (1, 0): v_1 ∝ 3/4 (0, 0) + 1/4 (-1, 1) -> (-1, 1)/√2
    with torch.no_grad():
        tab.residual_centers[0] = torch.tensor([1.0, 0.0])
    torch.testing.assert_close(tab.centre_embeddings(tokens)[0, 0], torch.tensor([-1.0, 1.0]) / math.sqrt(2))


def test_tab_ignores_padding_and_gives_unit_vectors():
    tab, tokens = _tab_by_hand()
    padded = torch.cat([tokens, torch.tensor([[[100.0, -50.0]]])], dim=1)
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(tab(padded, mask), tab(tokens))
    big = TemporalAlignmentBlock(num_centers=5, width=16)
    assert big.assign_centers.shape == big.residual_centers.shape == (5, 16)
    v = big.centre_embeddings(torch.randn(3, 9, 16))
    torch.testing.assert_close(v.norm(dim=-1), torch.ones(3, 5))
    torch.testing.assert_close(big(torch.randn(3, 9, 16)).norm(dim=-1), torch.ones(3))


# ---- the head ----------------------------------------------------------------------

def test_init_from_clip_text(tiny_arch):
    tower = _tower(tiny_arch, text_layers=4)
    head = CLIP2VideoHead(tower)
    text_blocks = tower.transformer.resblocks
    for i in range(4):
        assert torch.equal(head.temporal.blocks[i].attn.in_proj_weight, text_blocks[i].attn.in_proj_weight)
    for layer in (head.tdb.difference_attention, head.align_transformer):
        assert len(layer.blocks) == 1
        assert torch.equal(layer.blocks[0].mlp.c_fc.weight, text_blocks[0].mlp.c_fc.weight)
    assert torch.equal(head.positions, tower.positional_embedding)
    assert torch.equal(head.tdb.type_embedding, tower.positional_embedding[:2])
    assert head.tab.assign_centers.shape == (5, 64) and head.global_weight == 0.5


def _paper_video_features(head, tower, frames):
    """f_v^g and f_v^a written out from §3.1-3.2, token by token, with open_clip's own
    text layers (they are still equal to the head's copies)."""
    layer0 = tower.transformer.resblocks[0]
    P, Tt = tower.positional_embedding, head.tdb.type_embedding

    def tdb(f):
        m = f.shape[1]
        diffs = torch.stack([f[:, i] - f[:, i - 1] + P[i] for i in range(1, m)], 1)
        d = 2 * torch.sigmoid(head.tdb.norm(layer0(diffs))) - 1                  # eq. 1
        seq = []
        for i in range(m):                                                       # eq. 2
            seq.append(f[:, i] + P[i] + Tt[FRAME])
            if i < m - 1:
                seq.append(d[:, i] + P[i] + Tt[DIFFERENCE])
        return torch.stack(seq, 1)

    m = frames.shape[1]
    out = tower.transformer(tdb(frames), attn_mask=None)                        # L_t = 4 layers
    fv = torch.stack([out[:, 2 * i] for i in range(m)], 1) + frames             # frame slots
    f_g = F.normalize(F.normalize(fv, dim=-1).mean(1), dim=-1)
    sparse = frames[:, 0::2]
    out1 = layer0(tdb(sparse))
    d1 = torch.stack([out1[:, 2 * i] for i in range(sparse.shape[1])], 1) + sparse
    f_a = head.tab(torch.cat([frames, d1], 1))                                   # eq. 5
    return f_g, f_a


def test_video_features_follow_the_paper(tiny_arch):
    tower = _tower(tiny_arch, text_layers=4)
    head = CLIP2VideoHead(tower).eval()
    frames = torch.randn(3, 12, 64)
    with torch.no_grad():
        video = head.encode_video(frames)
        f_g, f_a = _paper_video_features(head, tower, frames)
    assert video.shape == (3, 2, 64)
    torch.testing.assert_close(video[:, 0], f_g)
    torch.testing.assert_close(video[:, 1], f_a)


def test_text_alignment_skips_sos_and_padding(tiny_arch):
    head = CLIP2VideoHead(_tower(tiny_arch), num_layers=1)
    tokens, pooled = torch.randn(2, 6, 64), torch.randn(2, 64)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    text = head.encode_text(tokens, mask, pooled)
    changed = tokens.clone()
    changed[:, 0] += 10          # [SOS]
    changed[0, 4:] -= 10         # padding
    torch.testing.assert_close(head.encode_text(changed, mask, pooled), text)
    torch.testing.assert_close(text[:, 1], head.tab(tokens[:, 1:], mask[:, 1:]))
    torch.testing.assert_close(text[:, 0], F.normalize(pooled, dim=-1))


def _batch():
    video = torch.randn(4, 1, 3, 6, 32, 32)
    text = torch.zeros(4, 7, dtype=torch.long)
    text[:, 0], text[:, 1], text[:, 2], text[:, 3] = 49406, torch.tensor([320, 1929, 530, 4558]), 268, 49407
    return video, text


@pytest.mark.parametrize('weight', [0.5, 0.3])
def test_loss_and_scores_mix_global_and_aligned(tiny_arch, weight):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='VideoTextRetriever', clip=dict(arch=tiny_arch),
                              backbone=dict(type='CLIPMeanPool'), logit_scale=20.0,
                              head=dict(type='CLIP2VideoHead', num_layers=2, global_weight=weight)))
    video, text = _batch()
    video_feats = model.encode_video(video)
    text_feats = model.head.encode_text(*model.encode_text(text)[1:], model.encode_text(text)[0])
    s_g = text_feats[:, 0] @ video_feats[:, 0].T
    s_a = text_feats[:, 1] @ video_feats[:, 1].T
    labels = torch.arange(4)

    def symmetric(s):  # [C2V] §3.3: L_o = ½ (L_t2v + L_v2t), with the retriever's logit scale
        return (F.cross_entropy(20 * s, labels) + F.cross_entropy(20 * s.T, labels)) / 2

    losses = model(dict(imgs=video, text=text), mode='loss')
    assert set(losses) == {'loss_t2v', 'loss_v2t'}
    torch.testing.assert_close(losses['loss_t2v'] + losses['loss_v2t'],
                               weight * symmetric(s_g) + (1 - weight) * symmetric(s_a))
    with torch.no_grad():  # inference: <f_t, f_v> = w <f^g> + (1 - w) <f^a>
        torch.testing.assert_close(model.score(model.encode_text(text), video_feats),
                                   weight * s_g + (1 - weight) * s_a)
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.head.parameters())
