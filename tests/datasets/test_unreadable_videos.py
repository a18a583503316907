"""Missing and corrupt videos are skipped with a warning naming them."""
import logging
import os
import shutil

import pytest

from mmstan.datasets import RobustVideoDataset, unreadable_videos
from mmstan.errors import UserError

PIPELINE = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=4),
    dict(type='DecordDecode'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]


@pytest.fixture
def broken_set(synthetic_motion, tmp_path):
    """Four videos: two good, one corrupt (random bytes), one missing."""
    videos = tmp_path / 'videos'
    videos.mkdir()
    for name in ('a.mp4', 'b.mp4'):
        shutil.copy(os.path.join(synthetic_motion, 'videos', 'train', '00000.mp4'), videos / name)
    (videos / 'corrupt.mp4').write_bytes(os.urandom(2048))
    (tmp_path / 'list.txt').write_text('a.mp4 0\ncorrupt.mp4 1\nmissing.mp4 2\nb.mp4 3\n')
    return tmp_path


def _dataset(root, test_mode):
    return RobustVideoDataset(ann_file=str(root / 'list.txt'), data_prefix=dict(video=str(root / 'videos')),
                              pipeline=PIPELINE, test_mode=test_mode)


def test_training_skips_and_refetches(broken_set):
    ds = _dataset(broken_set, test_mode=False)
    assert len(ds) == 4
    for idx in range(4):  # mmengine refetches a readable sample when prepare_data is None
        assert ds[idx]['inputs'].shape == (1, 3, 4, 32, 32)


@pytest.fixture
def warnings_logged(monkeypatch):
    logged = []
    monkeypatch.setattr(unreadable_videos, 'print_log',
                        lambda msg, **kwargs: logged.append((msg, kwargs.get('level'))))
    return logged


def test_training_warning_names_file(broken_set, warnings_logged):
    ds = _dataset(broken_set, test_mode=False)
    assert ds.prepare_data(1) is None
    assert ds.prepare_data(2) is None
    assert all(level == logging.WARNING for _, level in warnings_logged)
    text = ' '.join(msg for msg, _ in warnings_logged)
    assert 'skipping unreadable video' in text and 'corrupt.mp4' in text and 'missing.mp4' in text


def test_test_mode_drops_unreadable_at_load(broken_set, warnings_logged):
    ds = _dataset(broken_set, test_mode=True)
    names = [os.path.basename(ds.get_data_info(i)['filename']) for i in range(len(ds))]
    assert names == ['a.mp4', 'b.mp4']
    text = ' '.join(msg for msg, _ in warnings_logged)
    assert 'corrupt.mp4' in text and 'missing.mp4' in text
    assert ds[1]['inputs'].shape == (1, 3, 4, 32, 32)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(UserError, match=r'annotation file not found: .*nope.txt.*ann_file'):
        RobustVideoDataset(ann_file=str(tmp_path / 'nope.txt'), pipeline=PIPELINE)


def test_real_reference_video(shared_data, tmp_path):
    (tmp_path / 'list.txt').write_text('test.mp4 0\ntest.avi 1\n')
    ds = RobustVideoDataset(ann_file=str(tmp_path / 'list.txt'), data_prefix=dict(video=shared_data),
                            pipeline=PIPELINE, test_mode=True)
    assert len(ds) == 2
    assert ds[0]['inputs'].shape[:3] == (1, 3, 4)
