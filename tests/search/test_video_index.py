"""The on-disk index: commits, reopening, crash consistency, FAISS stage 1."""
import json
import os

import numpy as np
import pytest

from mmstan.errors import UserError
from mmstan.search import VideoIndex
from mmstan.search.video_index import FAISS_FILE, MANIFEST

META = dict(config_sha256='c', checkpoint_sha256='k', head_mode='mug', embed_dim=8, source='s')


def _rand(n, t=3, e=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, t, e)).astype(np.float32), rng.normal(size=(n, e)).astype(np.float32)


def test_append_reopen_and_read_back(tmp_path):
    index = VideoIndex.create(str(tmp_path), META)
    f1, p1 = _rand(4, seed=1)
    f2, p2 = _rand(3, seed=2)
    index.append(['a', 'b', 'c', 'd'], f1, p1)
    index.append(['e', 'f', 'g'], f2, p2, skipped={'x.mp4': 'bad'})
    again = VideoIndex.open(str(tmp_path))
    assert again.keys == list('abcdefg') and again.skipped == {'x.mp4': 'bad'}
    np.testing.assert_array_equal(again.pooled(), np.concatenate([p1, p2]))
    ids = [6, 0, 4, 4]  # across shards, out of order, repeated
    np.testing.assert_array_equal(again.frames(ids), np.concatenate([f1, f2])[ids])
    with pytest.raises(ValueError, match='already in the index'):
        again.append(['c'], *_rand(1))


def test_uncommitted_shard_files_are_ignored_and_overwritten(tmp_path):
    """A run killed after writing a shard's files but before the manifest lists them."""
    index = VideoIndex.create(str(tmp_path), META)
    index.append(['a', 'b'], *_rand(2, seed=1))
    np.save(tmp_path / 'shard_00001.frames.npy', np.zeros((5, 3, 8), np.float32))
    (tmp_path / 'shard_00001.keys.json').write_text(json.dumps(list('vwxyz')))
    (tmp_path / 'shard_00001.pooled.npy.tmp4242').write_bytes(b'half written')
    reopened = VideoIndex.create(str(tmp_path), META)
    assert reopened.keys == ['a', 'b']
    frames, pooled = _rand(1, seed=3)
    reopened.append(['c'], frames, pooled)
    np.testing.assert_array_equal(VideoIndex.open(str(tmp_path)).frames([2]), frames)
    assert not [p for p in os.listdir(tmp_path) if '.tmp' in p]


def test_resume_needs_same_settings(tmp_path):
    VideoIndex.create(str(tmp_path), META)
    with pytest.raises(UserError, match='checkpoint_sha256 differ'):
        VideoIndex.create(str(tmp_path), dict(META, checkpoint_sha256='other'))
    with pytest.raises(UserError, match='no video index'):
        VideoIndex.open(str(tmp_path / 'none'))


def test_faiss_search_is_exact_inner_product(tmp_path):
    index = VideoIndex.create(str(tmp_path), META)
    frames, pooled = _rand(50, seed=4)
    index.append([f'v{i}' for i in range(50)], frames, pooled)
    queries = np.random.default_rng(5).normal(size=(6, 8)).astype(np.float32)
    scores, ids = index.search(queries, 7)
    expected = queries @ pooled.T
    np.testing.assert_array_equal(ids, np.argsort(-expected, axis=1)[:, :7])
    np.testing.assert_allclose(scores, np.take_along_axis(expected, ids, 1), rtol=1e-5, atol=1e-5)
    subset = [3, 10, 20, 41]
    scores, ids = index.search(queries, 10)  # k larger than the subset is cut to it
    _, sub_ids = index.search(queries, 10, subset=subset)
    assert sub_ids.shape == (6, 4) and set(sub_ids[0]) == set(subset)
    np.testing.assert_array_equal(
        sub_ids, np.array(subset)[np.argsort(-expected[:, subset], axis=1)])


def test_stale_faiss_file_is_rebuilt(tmp_path):
    index = VideoIndex.create(str(tmp_path), META)
    index.append(['a'], *_rand(1, seed=1))
    assert index.faiss_index().ntotal == 1 and (tmp_path / FAISS_FILE).is_file()
    index.append(['b'], *_rand(1, seed=2))
    # a later process finds the one-video FAISS file of the earlier run
    assert VideoIndex.open(str(tmp_path)).faiss_index().ntotal == 2
    assert json.load(open(tmp_path / MANIFEST))['shards'][1]['count'] == 1
