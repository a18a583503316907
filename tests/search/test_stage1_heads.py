"""Stage 1 of the search with every head: each head gives its own stage-1 vectors (the
head protocol of mmstan.models.heads), exact where the score is an inner product; the
two-stage search equals the head's exact ranking when stage 2 sees the whole gallery; an
index whose vectors were made by the old rule (Mug pooling for every head) is brought up
to date from its stored features."""
import json

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmstan.errors import UserError
from mmstan.models.clip.text import text_tower
from mmstan.models.heads import CLIP2VideoHead, MeanPHead, MugHead, SeqTransfHead, WTIHead
from mmstan.search import VideoIndex, search, stage1_rule, text_vectors, update_stage1, video_vectors
from mmstan.search.video_index import FAISS_FILE, MANIFEST

N, T, E, K, M = 24, 4, 64, 6, 10
HEADS = ['mug', 'frame_text', 'video_token', 'mean', 'wti', 'seqtransf', 'seqtransf_mug',
         'clip2video']
#: heads whose score is an inner product: stage 1 is the score itself
EXACT = ['mean', 'seqtransf', 'clip2video']


def _tower(tiny_arch):
    torch.manual_seed(0)
    return text_tower(open_clip.CLIP(**tiny_arch).eval())


def make_head(name, tiny_arch) -> nn.Module:
    torch.manual_seed(1)
    if name == 'seqtransf':
        head = SeqTransfHead(_tower(tiny_arch), num_layers=2)
    elif name == 'seqtransf_mug':
        head = SeqTransfHead(_tower(tiny_arch), num_layers=2, similarity=dict(type='MugHead', mode='mug'))
    elif name == 'clip2video':
        head = CLIP2VideoHead(_tower(tiny_arch), num_layers=2, num_centers=3, global_weight=0.3,
                              center_std=1.0)
    elif name == 'mean':
        head = MeanPHead()
    elif name == 'wti':
        head = WTIHead(embed_dim=E)
    else:
        head = MugHead(mode=name)
    return head.eval()


def features(head, seed=0):
    """Random text features and the head's video features of random frames."""
    g = torch.Generator().manual_seed(seed)
    tokens, pooled = torch.randn(M, K, E, generator=g), torch.randn(M, E, generator=g)
    mask = torch.ones(M, K, dtype=torch.bool)
    mask[0, 3:] = False
    mask[3, 2:] = False
    frames = torch.randn(N, T, E, generator=g)
    encode = getattr(head, 'encode_video', None)
    with torch.no_grad():
        video = frames if encode is None else encode(frames)
    return (tokens, mask, pooled), video


def build_index(root, head, video, meta=None):
    index = VideoIndex.create(str(root), meta or dict(stage1=stage1_rule(head), embed_dim=E, source='random'))
    for lo in range(0, N, 10):  # three shards
        index.append([f'v{i:02d}' for i in range(lo, min(lo + 10, N))], video[lo:lo + 10].numpy(),
                     video_vectors(head, video[lo:lo + 10]).numpy())
    return index


@pytest.mark.parametrize('name', HEADS)
def test_two_stage_over_the_whole_gallery_is_the_exact_ranking(name, tiny_arch, tmp_path):
    head = make_head(name, tiny_arch)
    (tokens, mask, pooled), video = features(head)
    index = build_index(tmp_path, head, video)
    with torch.no_grad():
        exact = head.gallery(tokens, mask, pooled, video)
    hits = search(index, head, tokens, mask, pooled, top_k=5, rerank=N)
    stage_one = text_vectors(head, tokens, mask, pooled) @ video_vectors(head, video).T
    for q, found in enumerate(hits):
        scores, order = exact[q].sort(descending=True)
        assert found[0].key == f'v{int(order[0]):02d}'  # top-1 = exact top-1
        assert [h.key for h in found] == [f'v{i:02d}' for i in order[:5].tolist()]
        np.testing.assert_allclose([h.score for h in found], scores[:5].numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose([h.pooled_score for h in found],
                                   stage_one[q, order[:5]].numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('name', EXACT)
def test_stage_one_is_the_score_where_the_score_is_an_inner_product(name, tiny_arch, tmp_path):
    head = make_head(name, tiny_arch)
    (tokens, mask, pooled), video = features(head)
    with torch.no_grad():
        exact = head.gallery(tokens, mask, pooled, video)
    stage_one = text_vectors(head, tokens, mask, pooled) @ video_vectors(head, video).T
    torch.testing.assert_close(stage_one, exact, rtol=1e-5, atol=1e-5)
    # stage 1 alone (no re-ranking) then ranks as the head does
    index = build_index(tmp_path, head, video)
    hits = search(index, head, tokens, mask, pooled, top_k=N, rerank=0)
    for q, found in enumerate(hits):
        np.testing.assert_allclose([h.score for h in found],
                                   exact[q].sort(descending=True).values.numpy(), rtol=1e-5, atol=1e-5)


def test_clip2video_stage_one_concatenates_weighted_global_and_aligned(tiny_arch):
    head = make_head('clip2video', tiny_arch)
    (tokens, mask, pooled), video = features(head)
    vectors = video_vectors(head, video)
    assert vectors.shape == (N, 2 * E)
    torch.testing.assert_close(vectors[:, :E], 0.3 ** 0.5 * video[:, 0])
    torch.testing.assert_close(vectors[:, E:], 0.7 ** 0.5 * video[:, 1])
    # the old rule (Mug pooling of the two feature slots) is not the score
    old_video = F.normalize(video, dim=-1).mean(1)
    old_text = F.normalize(tokens, dim=-1).mul(mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    with torch.no_grad():
        exact = head.gallery(tokens, mask, pooled, video)
    assert not torch.allclose(old_text @ old_video.T, exact, atol=1e-3)


def test_wti_stage_one_is_below_the_score(tiny_arch):
    """WTI's two terms take a max over frames / tokens; stage 1 takes the learned-weight
    mean instead, so it never exceeds the score."""
    head = make_head('wti', tiny_arch)
    (tokens, mask, pooled), video = features(head)
    with torch.no_grad():
        exact = head.gallery(tokens, mask, pooled, video)
    stage_one = text_vectors(head, tokens, mask, pooled) @ video_vectors(head, video).T
    assert (stage_one <= exact + 1e-6).all()


def test_head_without_stage_one_is_a_clear_error(tmp_path):
    class PlainHead(nn.Module):
        def forward(self, tokens, mask, pooled, video):
            return pooled @ video.mean(1).T

    head = PlainHead()
    with pytest.raises(UserError, match=r'PlainHead has no stage1_video\(\)'):
        stage1_rule(head)
    with pytest.raises(UserError, match=r'PlainHead has no stage1_text\(\)'):
        text_vectors(head, torch.randn(2, 3, E), torch.ones(2, 3, dtype=torch.bool), torch.randn(2, E))
    head.stage1_video = lambda video: video.mean(1)
    with pytest.raises(UserError, match=r'PlainHead has no stage1_text\(\)'):
        stage1_rule(head)


def test_index_made_by_the_old_rule_is_recomputed(tiny_arch, tmp_path):
    """An index of stage-1 version 1 (manifest ``head_mode``, every head pooled by Mug's
    rule) gets its vectors recomputed from the stored features, once."""
    head = make_head('clip2video', tiny_arch)
    (tokens, mask, pooled), video = features(head)
    old_vectors = F.normalize(video, dim=-1).mean(1)  # version 1's 'mug' rule
    index = VideoIndex.create(str(tmp_path), dict(config_sha256='c', checkpoint_sha256='k',
                                                  head_mode='mug', embed_dim=E, source='s'))
    index.append([f'v{i:02d}' for i in range(N)], video.numpy(), old_vectors.numpy())
    assert index.faiss_index().d == E and (tmp_path / FAISS_FILE).is_file()
    assert update_stage1(VideoIndex.open(str(tmp_path)), head)
    meta = json.load(open(tmp_path / MANIFEST))['meta']
    assert meta == dict(config_sha256='c', checkpoint_sha256='k', stage1='CLIP2VideoHead v2',
                        embed_dim=E, source='s')
    index = VideoIndex.open(str(tmp_path))
    np.testing.assert_allclose(index.pooled(), video_vectors(head, video).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(index.frames(range(N)), video.numpy())
    assert index.faiss_index().d == 2 * E  # the stale FAISS file was rebuilt
    with torch.no_grad():
        exact = head.gallery(tokens, mask, pooled, video)
    hits = search(index, head, tokens, mask, pooled, top_k=1, rerank=0)
    assert [h[0].key for h in hits] == [f'v{int(i):02d}' for i in exact.argmax(1)]
    assert not update_stage1(index, head)  # up to date: nothing recomputed
