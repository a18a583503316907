"""Mug head against a naive per-pair implementation of Mug-STAN eqs. 11-18."""
import pytest
import torch
import torch.nn.functional as F

from mmstan.models.heads import MugHead

TAU = 100.0


def naive_mug(c, v, tau=TAU):
    """Eqs. 11-18 for one pair, literally. c: [K, E] real tokens, v: [T, E]."""
    K, T = c.shape[0], v.shape[0]
    s = torch.zeros(T, K)
    for i in range(T):                                    # (11)
        s[i] = torch.softmax(torch.stack([tau * c[j] @ v[i] for j in range(K)]), 0)
    c_bar = torch.stack([sum(s[i, j] * c[j] for j in range(K)) for i in range(T)])   # (12)
    s_tilde = torch.softmax(torch.stack([tau * c_bar[i] @ v[i] for i in range(T)]), 0)  # (13)
    v_tilde = sum(s_tilde[i] * v[i] for i in range(T))    # (14)
    s_p = torch.zeros(T, K)
    for j in range(K):                                    # (15)
        s_p[:, j] = torch.softmax(torch.stack([tau * c[j] @ v[i] for i in range(T)]), 0)
    v_bar = torch.stack([sum(s_p[i, j] * v[i] for i in range(T)) for j in range(K)])  # (16)
    s_tp = torch.softmax(torch.stack([tau * c[j] @ v_bar[j] for j in range(K)]), 0)     # (17)
    c_tilde = sum(s_tp[j] * c[j] for j in range(K))      # (18)
    return c_tilde @ v_tilde


def inputs(m=5, n=4, k=7, t=6, e=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = F.normalize(torch.randn(m, k, e, generator=g, dtype=torch.float64), dim=-1)
    frames = F.normalize(torch.randn(n, t, e, generator=g, dtype=torch.float64), dim=-1)
    pooled = F.normalize(torch.randn(m, e, generator=g, dtype=torch.float64), dim=-1)
    lengths = torch.randint(2, k + 1, (m,), generator=g)
    mask = torch.arange(k)[None] < lengths[:, None]
    tokens = tokens.masked_fill(~mask[..., None], 7.0)  # padding garbage must not matter
    return tokens, mask, pooled, frames


def test_mug_matches_naive_eqs_11_18_with_padding():
    tokens, mask, pooled, frames = inputs()
    got = MugHead('mug', tau=TAU).double()(tokens, mask, pooled, frames)
    for a in range(tokens.shape[0]):
        real = F.normalize(tokens[a][mask[a]], dim=-1)
        for b in range(frames.shape[0]):
            assert abs(got[a, b] - naive_mug(real, frames[b])) <= 1e-5


def test_frame_text_and_video_token_modes():
    tokens, mask, pooled, frames = inputs(seed=1)
    ft = MugHead('frame_text', tau=TAU).double()(tokens, mask, pooled, frames)
    vt = MugHead('video_token', tau=TAU).double()(tokens, mask, pooled, frames)
    for a in range(tokens.shape[0]):
        real = F.normalize(tokens[a][mask[a]], dim=-1)
        for b in range(frames.shape[0]):
            # frame-text: the text [EOT] is the only token
            assert abs(ft[a, b] - naive_mug(pooled[a][None], frames[b])) <= 1e-5
            mean = F.normalize(frames[b].mean(0), dim=-1)[None]   # video-token: one frame
            assert abs(vt[a, b] - naive_mug(real, mean)) <= 1e-5


def test_mean_mode_is_clip4clip():
    tokens, mask, pooled, frames = inputs(seed=2)
    got = MugHead('mean').double()(tokens, mask, pooled, frames)
    expected = pooled @ F.normalize(frames.mean(1), dim=-1).T
    torch.testing.assert_close(got, expected)


def test_wti_matches_naive():
    tokens, mask, pooled, frames = inputs(seed=3)
    head = MugHead('wti', embed_dim=16).double()
    got = head(tokens, mask, pooled, frames)
    for a in range(tokens.shape[0]):
        c = F.normalize(tokens[a][mask[a]], dim=-1)
        wa = torch.softmax(head.text_weight(c).squeeze(-1), 0)
        for b in range(frames.shape[0]):
            v = frames[b]
            wb = torch.softmax(head.video_weight(v).squeeze(-1), 0)
            sim = c @ v.T
            expected = ((wa * sim.max(1).values).sum() + (wb * sim.max(0).values).sum()) / 2
            assert abs(got[a, b] - expected) <= 1e-5


@pytest.mark.parametrize('mode', ['mug', 'frame_text', 'video_token', 'mean'])
def test_chunked_gallery_equals_unchunked(mode):
    tokens, mask, pooled, frames = inputs(m=23, n=9, seed=4)
    head = MugHead(mode, block_elements=4 * 9 * 7 * 6).double()  # 4 texts per block
    torch.testing.assert_close(head.gallery(tokens, mask, pooled, frames),
                               head(tokens, mask, pooled, frames), atol=1e-12, rtol=0)


def test_mug_is_parameter_free_and_differentiable():
    head = MugHead('mug')
    assert not list(head.parameters())
    tokens, mask, pooled, frames = (x.float() if x.is_floating_point() else x for x in inputs())
    frames.requires_grad_(True)
    head(tokens, mask, pooled, frames).sum().backward()
    assert frames.grad.abs().sum() > 0


def test_fast_path_falls_back_when_cosines_spread_widely():
    from mmstan.models.heads.mug_head import _mug_block_safe, mug_block
    g = torch.tensor([[[[1.0, -1.0], [-1.0, -1.0]]]])  # frame 1 is far below the block max
    mask = torch.ones(1, 1, 2, 1, dtype=torch.bool)
    torch.testing.assert_close(mug_block(g, mask, 100.0), _mug_block_safe(g, mask, 100.0))
    assert torch.isfinite(mug_block(g, mask, 100.0)).all()
    tokens, mask, pooled, frames = inputs(seed=5)
    g = torch.einsum('mkd,ntd->mnkt', tokens.float(), frames.float())
    torch.testing.assert_close(mug_block(g, mask[:, None, :, None], 100.0),
                               _mug_block_safe(g, mask[:, None, :, None], 100.0), atol=1e-5, rtol=1e-4)


def test_fast_path_matches_naive_on_clip_like_features(monkeypatch):
    """512-d features (cosines close together, as CLIP's): the one-exponential path runs."""
    from mmstan.models.heads import mug_head

    def no_fallback(*args):
        raise AssertionError('fell back to the safe path')

    tokens, mask, pooled, frames = inputs(m=3, n=3, k=6, t=5, e=512, seed=6)
    monkeypatch.setattr(mug_head, '_mug_block_safe', no_fallback)
    for grad in (False, True):
        frames_in = frames.clone().requires_grad_(grad)
        got = MugHead('mug').double()(tokens, mask, pooled, frames_in)
        for a in range(3):
            real = F.normalize(tokens[a][mask[a]], dim=-1)
            for b in range(3):
                assert abs(got[a, b].item() - naive_mug(real, frames[b]).item()) <= 1e-5
        if grad:
            got.sum().backward()
            assert torch.isfinite(frames_in.grad).all()
