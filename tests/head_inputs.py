"""Inputs of the similarity heads (tests/models/test_*_head.py) and the check of the
token set they read (``drop_sot``, one helper of all heads)."""
import torch


def inputs(m=5, n=4, k=7, t=6, e=16, seed=0, min_len=2, prefix=True, dtype=torch.float64):
    """Random texts of different lengths (padding filled with garbage) and videos."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(m, k, e, generator=g, dtype=dtype)
    frames = torch.randn(n, t, e, generator=g, dtype=dtype)
    pooled = torch.randn(m, e, generator=g, dtype=dtype)
    lengths = torch.randint(min_len, k + 1, (m,), generator=g)
    mask = torch.arange(k)[None] < lengths[:, None]
    if not prefix:   # real tokens anywhere in the row
        mask = torch.stack([row[torch.randperm(k, generator=g)] for row in mask])
    tokens = tokens.masked_fill(~mask[..., None], 7.0)  # padding garbage must not matter
    return tokens, mask, pooled, frames


def check_drop_sot(head, plain, tokens, mask, pooled, frames):
    """``head`` (``drop_sot=True``) scores as ``plain`` (the same weights, ``drop_sot=False``)
    with position 0 ([SOT]) made padding; whatever [SOT] holds no longer changes a score
    (issue 16, defect 4). Returns the scores and the mask without position 0."""
    plain.load_state_dict(head.state_dict())
    without = mask.clone()
    without[:, 0] = False
    got = head(tokens, mask, pooled, frames)
    torch.testing.assert_close(got, plain(tokens, without, pooled, frames), atol=1e-12, rtol=0)
    torch.testing.assert_close(head.gallery(tokens, mask, pooled, frames), got, atol=1e-12, rtol=0)
    other = tokens.clone()
    other[:, 0] = frames[0, 0]   # [SOT] made the token closest to a frame
    torch.testing.assert_close(head(other, mask, pooled, frames), got, atol=1e-12, rtol=0)
    assert not torch.allclose(plain(other, mask, pooled, frames), plain(tokens, mask, pooled, frames))
    assert torch.equal(head.token_mask(mask, tokens), without)
    assert torch.equal(plain.token_mask(mask, tokens), mask)
    return got, without
