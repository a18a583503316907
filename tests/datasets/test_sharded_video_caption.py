"""ShardedVideoCaptionDataset: samples read through the shard index (one seek, one read),
decoded from memory to the frames decord decodes from the original files; video2dataset's
tar layout indexed in place; truncated tars and corrupt members skipped and named."""
import io
import json
import logging
import os
import os.path as osp
import tarfile
import time

import decord
import numpy as np
import pytest
from shard_samples import make_uneven_shards, make_videos
from test_unreadable_videos import warnings_logged  # noqa: F401  (the fixture)

from mmstan.datasets import ShardedVideoCaptionDataset
from mmstan.datasets.preparation import shards
from mmstan.datasets.preparation.shards import index_shards
from mmstan.datasets.shard_index import index_path, load_shard_index
from mmstan.errors import UserError

PIPELINE = [dict(type='ShardDecordInit'), dict(type='UniformSample', clip_len=4, test_mode=True),
            dict(type='DecordDecode')]


def frames_of(path_or_bytes) -> np.ndarray:
    """All frames as decord decodes them (the primary source the shards must reproduce)."""
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    reader = decord.VideoReader(source, num_threads=1)
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def write_video2dataset_tar(path: str, samples: list) -> None:
    """A tar as video2dataset's WebDatasetSampleWriter writes one: webdataset's TarWriter
    puts each sample's fields in sorted order (json, mp4, txt) under the key
    ``{shard:05d}{i:04d}``, owner bigdata, mode 0444, the current time; the meta JSON
    (indent 4) holds url, key, status and the extra columns, the .txt the caption."""
    with tarfile.open(path, 'w') as tar:  # default (PAX) format, as tarfile.open in webdataset
        for key, video_bytes, caption in samples:
            meta = dict(url=f'https://example.invalid/{key}.mp4', key=key, status='success',
                        error_message=None, caption=caption, videoid=key, page_dir='000001_000050')
            fields = {'json': json.dumps(meta, indent=4).encode(), 'mp4': video_bytes,
                      'txt': caption.encode()}
            for ext in sorted(fields):
                info = tarfile.TarInfo(f'{key}.{ext}')
                info.size, info.mtime, info.mode = len(fields[ext]), time.time(), 0o444
                info.uname = info.gname = 'bigdata'
                tar.addfile(info, io.BytesIO(fields[ext]))


def test_video2dataset_tar_read_through_its_index(tmp_path):
    captions = make_videos(str(tmp_path / 'videos'), 5)
    names = list(captions)
    out = tmp_path / 'dataset'
    out.mkdir()
    for shard, chunk in enumerate((names[:3], names[3:])):
        samples = [(f'{shard:05d}{i:04d}', (tmp_path / 'videos' / n).read_bytes(), captions[n])
                   for i, n in enumerate(chunk)]
        write_video2dataset_tar(str(out / f'{shard:05d}.tar'), samples)
        (out / f'{shard:05d}_stats.json').write_text(json.dumps(dict(count=len(chunk))))
        (out / f'{shard:05d}.parquet').write_bytes(b'PAR1')
    assert index_shards(str(out)) == 5
    index = load_shard_index(str(out / '00001.tar'))
    assert [s['key'] for s in index['samples']] == ['000010000', '000010001']
    with open(out / '00000.tar', 'rb') as f:  # offset/size are exactly the member's bytes
        f.seek(load_shard_index(str(out / '00000.tar'))['samples'][2]['offset'])
        assert f.read(load_shard_index(str(out / '00000.tar'))['samples'][2]['size']) \
            == (tmp_path / 'videos' / names[2]).read_bytes()

    train = ShardedVideoCaptionDataset(ann_file=str(out), pipeline=PIPELINE)
    assert [train.get_data_info(i)['text'] for i in range(5)] == [captions[n] for n in names]
    for i, name in enumerate(names):
        sample = train[i]
        expected = frames_of(str(tmp_path / 'videos' / name))[sample['frame_inds']]
        np.testing.assert_array_equal(np.stack(sample['imgs']), expected)
    assert train.get_data_info(3)['filename'].endswith('00001.tar:000010000.mp4')

    test = ShardedVideoCaptionDataset(ann_file=str(out / '*.tar'), pipeline=PIPELINE, test_mode=True)
    assert test.caption_list() == ([captions[n] for n in names], [0, 1, 2, 3, 4])
    assert [test.get_data_info(i)['video_id'] for i in range(5)] == [0, 1, 2, 3, 4]


@pytest.fixture
def broken_shards(tmp_path, monkeypatch):
    """Three shards of 3: a corrupt mp4 member (random bytes) in 00001.tar, and 00002.tar
    truncated in the middle of its last video after indexing."""
    videos = str(tmp_path / 'videos')
    captions = make_videos(videos, 9)
    with open(osp.join(videos, 'v004.mp4'), 'wb') as f:
        f.write(os.urandom(1500))
    out = str(tmp_path / 'shards')
    with monkeypatch.context() as patch:  # make_shards.py would leave the corrupt video out
        patch.setattr(shards, 'video_is_readable', lambda path: True)
        make_uneven_shards(out, videos, captions, [3, 3, 3])
    last = osp.join(out, '00002.tar')
    cut = load_shard_index(last)['samples'][2]
    os.truncate(last, cut['offset'] + cut['size'] // 2)
    return out


def test_truncated_tar_and_corrupt_member_skipped_and_named(broken_shards, warnings_logged):  # noqa: F811
    train = ShardedVideoCaptionDataset(ann_file=broken_shards, pipeline=PIPELINE)
    assert len(train) == 9
    assert train.prepare_data(4) is None and train.prepare_data(8) is None
    text = ' '.join(msg for msg, _ in warnings_logged)
    assert '00001.tar:000011.mp4' in text and '00002.tar:000022.mp4' in text
    assert 'truncated' in text
    assert all(level == logging.WARNING for _, level in warnings_logged)
    for idx in range(9):  # training goes on: mmengine refetches another, readable sample
        assert len(train[idx]['imgs']) == 4

    test = ShardedVideoCaptionDataset(ann_file=broken_shards, pipeline=PIPELINE, test_mode=True)
    assert len(test) == 7
    assert not any('000011' in test.get_data_info(i)['filename'] for i in range(7))

    # indexed after the truncation: the cut member is left out of the index
    index_shards(broken_shards, force=True)
    assert [s['key'] for s in load_shard_index(osp.join(broken_shards, '00002.tar'))['samples']] \
        == ['000020', '000021']


def test_missing_index_and_plain_decordinit_are_user_errors(broken_shards):
    os.remove(index_path(osp.join(broken_shards, '00001.tar')))
    with pytest.raises(UserError, match='make_shards.py index'):
        ShardedVideoCaptionDataset(ann_file=broken_shards, pipeline=PIPELINE)
    with pytest.raises(UserError, match='no tar shard'):
        ShardedVideoCaptionDataset(ann_file=broken_shards + '/none', pipeline=PIPELINE)
    index_shards(broken_shards)
    with pytest.raises(UserError, match='ShardDecordInit'):
        ShardedVideoCaptionDataset(ann_file=broken_shards, pipeline=[dict(type='DecordInit')])


def test_webvid_pretrain_config_reads_shards(tmp_path):
    """configs/mugstan/webvid_pretrain.py's training data, pointed at small shards, gives
    12-frame 224 px clips and 64 tokens, from a resumable sampler and loop."""
    from mmaction.registry import DATASETS
    from mmengine.config import Config

    from conftest import ROOT

    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mugstan', 'webvid_pretrain.py'))
    assert cfg.train_dataloader.sampler.type == 'ResumableSampler'
    assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
    captions = make_videos(str(tmp_path / 'videos'), 3)
    make_uneven_shards(str(tmp_path / 'shards_10M'), str(tmp_path / 'videos'), captions, [2, 1])
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(tmp_path)))
    sample = dataset[2]
    assert sample['inputs']['imgs'].shape == (1, 3, 12, 224, 224)
    assert sample['inputs']['text'].shape == (64,)


def test_forked_workers_read_the_members_bytes(tmp_path):
    """Two DataLoader workers forked with a shard descriptor already open read every video's
    exact bytes (positioned reads: no shared file offset)."""
    from torch.utils.data import DataLoader

    from mmstan.datasets.shard_index import read_member

    captions = make_videos(str(tmp_path / 'videos'), 8)
    make_uneven_shards(str(tmp_path / 'shards'), str(tmp_path / 'videos'), captions, [5, 3])
    infos = ShardedVideoCaptionDataset(ann_file=str(tmp_path / 'shards'), pipeline=[])
    read_member(infos[0]['shard'], infos[0]['offset'], infos[0]['size'])  # open before the fork

    class VideoBytes:
        def __len__(self):
            return len(infos)

        def __getitem__(self, idx):
            return read_member(infos[idx]['shard'], infos[idx]['offset'], infos[idx]['size'])

    loader = DataLoader(VideoBytes(), batch_size=1, num_workers=2, collate_fn=lambda batch: batch[0])
    assert list(loader) == [(tmp_path / 'videos' / name).read_bytes() for name in captions]
