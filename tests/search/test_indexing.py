"""Indexing synthetic videos with a tiny random-initialised retriever: test-time frames,
resuming after an interruption, unreadable videos, and two-stage vs exact metrics."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from tiny_model import CONFIG, HEADS, load_search_model, save_tiny_checkpoint

from mmstan.search import (
    VideoIndex,
    evaluate_index,
    index_meta,
    index_videos,
    videos_in_annotation,
    videos_in_folder,
)


@pytest.fixture(scope='module')
def search_model(tmp_path_factory):
    return load_search_model(save_tiny_checkpoint(str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')))


def _index(root, model, videos, **kwargs):
    return index_videos(str(root), model, videos, index_meta(model, 'ckpt-hash', 'test'),
                        progress=False, **kwargs)


def test_frames_are_the_test_pipeline_s(search_model, synthetic_motion, tmp_path):
    """The stored frames equal the retriever's encoding of what the config's test dataset
    (VideoCaptionDataset + test pipeline + data preprocessor) feeds it."""
    from mmaction.registry import DATASETS
    from mmengine.dataset import pseudo_collate

    ann = osp.join(synthetic_motion, 'val_captions.json')
    videos = videos_in_annotation(ann, osp.join(synthetic_motion, 'videos'))
    run = _index(tmp_path, search_model, videos, batch_size=4, shard_size=8)
    assert (run.total, run.already, run.added, run.skipped) == (16, 0, 16, {})
    cfg = Config.fromfile(CONFIG).test_dataloader.dataset
    cfg.update(data_root=synthetic_motion, ann_file=ann)
    dataset = DATASETS.build(cfg)
    sample = next(i for i in range(len(dataset)) if dataset.get_data_info(i)['video_id'] == 5)
    model = search_model.model
    data = model.data_preprocessor(pseudo_collate([dataset[sample]]), False)
    with torch.no_grad():
        expected = model.encode_video(data['inputs']['imgs'])[0]
    index = VideoIndex.open(str(tmp_path))
    assert index.keys == [key for key, _ in videos]
    got = index.frames([index.id_of(videos[5][0])])[0]
    torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-5, atol=1e-5)


def test_interrupted_run_resumes_without_indexing_twice(search_model, synthetic_motion, tmp_path,
                                                         monkeypatch):
    videos = videos_in_annotation(osp.join(synthetic_motion, 'val_captions.json'),
                                  osp.join(synthetic_motion, 'videos'))
    loaded, calls = [], []
    real_load, real_encode = search_model.load_video, search_model.encode_videos

    def load(path):
        loaded.append(path)
        return real_load(path)

    def encode(packed):
        calls.append(len(packed))
        if len(calls) == 9:  # two shards of 4 committed, the third one being filled
            raise KeyboardInterrupt('injected kill')
        return real_encode(packed)

    monkeypatch.setattr(search_model, 'load_video', load)
    monkeypatch.setattr(search_model, 'encode_videos', encode)
    with pytest.raises(KeyboardInterrupt):
        _index(tmp_path / 'resumed', search_model, videos, batch_size=1, shard_size=4)
    assert len(VideoIndex.open(str(tmp_path / 'resumed'))) == 8
    first = list(loaded)
    loaded.clear()
    run = _index(tmp_path / 'resumed', search_model, videos, batch_size=1, shard_size=4)
    assert (run.already, run.added) == (8, 8)
    paths = [p for _, p in videos]
    assert first == paths[:9] and loaded == paths[8:]  # the 9th was not committed: redone
    resumed = VideoIndex.open(str(tmp_path / 'resumed'))
    assert resumed.keys == [key for key, _ in videos]
    monkeypatch.undo()
    _index(tmp_path / 'straight', search_model, videos, batch_size=1, shard_size=4)
    straight = VideoIndex.open(str(tmp_path / 'straight'))
    np.testing.assert_allclose(resumed.frames(range(16)), straight.frames(range(16)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resumed.pooled(), straight.pooled(), rtol=1e-5, atol=1e-6)
    assert resumed.faiss_index().ntotal == 16
    again = _index(tmp_path / 'resumed', search_model, videos)
    assert (again.already, again.added) == (16, 0)


def test_unreadable_videos_are_skipped_and_named(search_model, synthetic_motion, tmp_path):
    folder = tmp_path / 'videos'
    folder.mkdir()
    for i in range(3):
        shutil.copy(osp.join(synthetic_motion, 'videos', 'val', f'{i:05d}.mp4'), folder / f'ok{i}.mp4')
    (folder / 'garbage.mp4').write_bytes(os.urandom(3000))
    (folder / 'empty.avi').write_bytes(b'')
    good = open(folder / 'ok0.mp4', 'rb').read()
    (folder / 'sub').mkdir()
    (folder / 'sub' / 'truncated.mp4').write_bytes(good[:len(good) // 3])
    (folder / 'notes.txt').write_text('not a video')
    videos = videos_in_folder(str(folder))
    assert [k for k, _ in videos] == ['empty.avi', 'garbage.mp4', 'ok0.mp4', 'ok1.mp4', 'ok2.mp4',
                                      'sub/truncated.mp4']
    run = _index(tmp_path / 'index', search_model, videos, batch_size=4)
    assert set(run.skipped) == {'empty.avi', 'garbage.mp4', 'sub/truncated.mp4'}, run.skipped
    index = VideoIndex.open(str(tmp_path / 'index'))
    assert index.keys == ['ok0.mp4', 'ok1.mp4', 'ok2.mp4'] and set(index.skipped) == set(run.skipped)


def test_two_stage_r1_equals_exact_at_rerank_50(search_model, synthetic_motion, tmp_path):
    """The synthetic set's 80 training videos (240 captions) in an index of all 96 clips."""
    _index(tmp_path, search_model, videos_in_folder(osp.join(synthetic_motion, 'videos')),
           batch_size=16)
    index = VideoIndex.open(str(tmp_path))
    ann = osp.join(synthetic_motion, 'train_captions.json')
    ev = evaluate_index(index, search_model, ann, rerank=50)
    assert (ev.videos, ev.captions, ev.rerank) == (80, 240, 50)
    print(f'exact {ev.exact}\ntwo-stage {ev.two_stage}\nexact top-1 kept: {ev.top1_found:.1f}%')
    assert ev.two_stage['t2v/R1'] == ev.exact['t2v/R1']
    # whenever stage 1 keeps a caption's exact best video, the two-stage top-1 is that video
    assert ev.kept.sum() >= 0.5 * ev.captions
    np.testing.assert_array_equal(ev.best['two_stage'][ev.kept], ev.best['exact'][ev.kept])
    everything = evaluate_index(index, search_model, ann, rerank=80)
    assert everything.top1_found == 100.0
    for key, value in everything.exact.items():
        if key.startswith('t2v/'):
            assert everything.two_stage[key] == pytest.approx(value), key
    assert everything.exact == ev.exact
    # videos of the annotation that the index lacks are named and left out
    partial = json.load(open(ann))
    partial['train/missing.mp4'] = ['a caption']
    json.dump(partial, open(tmp_path / 'partial.json', 'w'))
    assert evaluate_index(index, search_model, str(tmp_path / 'partial.json')).missing == [
        'train/missing.mp4']


def _val_videos(synthetic_motion):
    return videos_in_annotation(osp.join(synthetic_motion, 'val_captions.json'),
                                osp.join(synthetic_motion, 'videos'))


@pytest.fixture(scope='module')
def clip2video_model(tmp_path_factory):
    head = HEADS['clip2video']
    path = str(tmp_path_factory.mktemp('ckpt') / 'clip2video.pth')
    return load_search_model(save_tiny_checkpoint(path, head=head), head=head)


def test_clip2video_index_stage_one_is_the_head(clip2video_model, synthetic_motion, tmp_path):
    """CLIP2Video's score is an inner product of its stage-1 vectors: stage 1 alone
    (``rerank=0``) ranks the index exactly as the head over the whole gallery."""
    _index(tmp_path, clip2video_model, _val_videos(synthetic_motion), batch_size=8)
    index = VideoIndex.open(str(tmp_path))
    assert index.meta['stage1'] == 'CLIP2VideoHead v2' and index.pooled().shape == (16, 2 * 64)
    ev = evaluate_index(index, clip2video_model, osp.join(synthetic_motion, 'val_captions.json'),
                        rerank=0)
    assert (ev.videos, ev.captions) == (16, 48)
    np.testing.assert_array_equal(ev.best['two_stage'], ev.best['exact'])
    for key, value in ev.exact.items():
        if key.startswith('t2v/'):
            assert ev.two_stage[key] == pytest.approx(value), key
    # one candidate is enough: it is every caption's exact best video
    ev = evaluate_index(index, clip2video_model, osp.join(synthetic_motion, 'val_captions.json'),
                        rerank=1)
    assert ev.top1_found == 100.0


def test_resuming_an_index_of_the_old_stage_one_rule_recomputes_it(clip2video_model, synthetic_motion,
                                                                   tmp_path, monkeypatch):
    """An index made before heads gave their stage-1 vectors (manifest ``head_mode``,
    CLIP2Video's features pooled by Mug's rule): the next run with the same model
    recomputes its vectors from the stored features and encodes nothing again."""
    videos = _val_videos(synthetic_motion)
    _index(tmp_path, clip2video_model, videos, batch_size=8, shard_size=8)
    manifest = json.load(open(tmp_path / 'manifest.json'))
    new_vectors = VideoIndex.open(str(tmp_path)).pooled()
    for shard in manifest['shards']:  # write it as the old code did
        frames = torch.from_numpy(np.load(tmp_path / f'{shard["name"]}.frames.npy'))
        old = torch.nn.functional.normalize(frames, dim=-1).mean(1).numpy()
        np.save(tmp_path / f'{shard["name"]}.pooled.npy', old)
    manifest['meta'].pop('stage1')
    manifest['meta']['head_mode'] = 'mug'
    json.dump(manifest, open(tmp_path / 'manifest.json', 'w'))
    (tmp_path / 'pooled.faiss').unlink()
    assert VideoIndex.open(str(tmp_path)).faiss_index().d == 64  # the old vectors
    monkeypatch.setattr(clip2video_model, 'encode_videos', lambda packed: pytest.fail('re-encoded'))
    run = _index(tmp_path, clip2video_model, videos)
    assert (run.already, run.added) == (16, 0)
    index = VideoIndex.open(str(tmp_path))
    assert index.meta == index_meta(clip2video_model, 'ckpt-hash', 'test')
    np.testing.assert_allclose(index.pooled(), new_vectors, rtol=1e-5, atol=1e-6)
    assert index.faiss_index().d == 128 and index.faiss_index().ntotal == 16


def test_index_of_another_model_is_still_refused(search_model, clip2video_model, synthetic_motion,
                                                  tmp_path):
    from mmstan.errors import UserError

    videos = _val_videos(synthetic_motion)[:2]
    _index(tmp_path, search_model, videos)
    with pytest.raises(UserError, match='config_sha256, stage1 differ'):
        _index(tmp_path, clip2video_model, videos)
