"""tools/data/make_shards.py: shards in video2dataset's layout with indexes; unreadable
(corrupt, missing) videos named and left out; a run interrupted mid-shard and re-run gives the same shards
as an uninterrupted one, writing each shard once."""
import json
import os
import os.path as osp
import sys
import tarfile

import pytest

from conftest import ROOT, load_script
from mmstan.datasets.preparation import shards
from mmstan.datasets.shard_index import load_shard_index
from mmstan.errors import UserError

sys.path.insert(0, osp.join(ROOT, 'tests', 'datasets'))
from shard_samples import make_videos, write_caption_json  # noqa: E402

TOOL = 'tools/data/make_shards.py'


@pytest.fixture(scope='module')
def webvid_like(tmp_path_factory):
    """10 tiny videos, and a caption JSON listing them, a corrupt video and a missing one."""
    root = tmp_path_factory.mktemp('webvid_like')
    captions = make_videos(str(root / 'videos'), 10)
    (root / 'videos' / 'corrupt.mp4').write_bytes(os.urandom(1500))
    listed = dict(captions)
    listed['corrupt.mp4'] = 'a video cut short by its download'
    listed['missing.mp4'] = 'a video that was never downloaded'
    write_caption_json(str(root / 'captions.json'), listed)
    return str(root), listed


def files_of(folder: str) -> dict:
    return {name: open(osp.join(folder, name), 'rb').read() for name in sorted(os.listdir(folder))}


def test_interrupted_run_resumes_to_the_same_shards(webvid_like, tmp_path, monkeypatch):
    root, listed = webvid_like
    tool = load_script(TOOL)
    clean = str(tmp_path / 'clean')
    tool.main(['write', '--captions', f'{root}/captions.json', '--videos', f'{root}/videos',
               '--out', clean, '--samples-per-shard', '4'])
    files = files_of(clean)
    assert sorted(files) == [f'0000{s}.tar{x}' for s in range(3) for x in ('', '.idx.json')] + ['shards.json']

    # the layout: per sample key.json, key.mp4, key.txt; the video's bytes at the index's offset
    names = list(listed)
    with tarfile.open(osp.join(clean, '00000.tar')) as tar:
        assert tar.getnames()[:3] == ['000000.json', '000000.mp4', '000000.txt']
        assert tar.extractfile('000001.txt').read().decode() == listed[names[1]]
        assert json.loads(tar.extractfile('000001.json').read())['video'] == names[1]
    keys = [s['key'] for t in range(3) for s in load_shard_index(osp.join(clean, f'0000{t}.tar'))['samples']]
    assert len(keys) == 10 == len(set(keys))  # the corrupt and the missing video are left out
    assert keys[-2:] == ['000020', '000021']

    # killed while writing shard 1: shard 0 finished, shard 1 a partial temp file
    broken = str(tmp_path / 'broken')
    real = shards.write_shard

    def killed_in_shard_1(out, shard, items, *args):
        if shard == 1:
            with open(osp.join(out, '00001.tar.tmp'), 'wb') as f:
                f.write(b'partial')
            raise KeyboardInterrupt
        return real(out, shard, items, *args)

    monkeypatch.setattr(shards, 'write_shard', killed_in_shard_1)
    with pytest.raises(KeyboardInterrupt):
        shards.write_shards(f'{root}/captions.json', f'{root}/videos', broken, samples_per_shard=4)
    assert sorted(os.listdir(broken)) == ['00000.tar', '00000.tar.idx.json', '00001.tar.tmp', 'shards.json']
    with pytest.raises(UserError, match='--samples-per-shard'):  # another cut would mix layouts
        shards.write_shards(f'{root}/captions.json', f'{root}/videos', broken, samples_per_shard=5)

    written = []
    monkeypatch.setattr(shards, 'write_shard',
                        lambda out, shard, *args: written.append(shard) or real(out, shard, *args))
    logged = []
    monkeypatch.setattr(shards, 'print_log', lambda msg, **kwargs: logged.append(msg))
    left_out = shards.write_shards(f'{root}/captions.json', f'{root}/videos', broken, samples_per_shard=4)
    assert any('unreadable' in m and m.endswith('corrupt.mp4 (missing or corrupt)') for m in logged)
    assert any('1 of 3 shards already written' in m for m in logged)
    assert written == [1, 2]  # the finished shard is kept
    assert left_out == [osp.join(root, 'videos', n) for n in ('corrupt.mp4', 'missing.mp4')]
    assert files_of(broken) == files  # byte-identical, and no temp file left


def test_webvid_csv_and_index_command(webvid_like, tmp_path):
    root, listed = webvid_like
    names = list(listed)[:3]
    videos = tmp_path / 'videos' / '000001_000050'
    videos.mkdir(parents=True)
    rows = ['videoid,contentUrl,duration,page_dir,name']
    for i, name in enumerate(names):
        os.link(osp.join(root, 'videos', name), videos / f'{1000 + i}.mp4')
        caption = listed[name] if i else f'{listed[name]}\nover two lines'  # a quoted newline
        rows.append(f'{1000 + i},https://example.invalid/{i}.mp4,PT00H00M01S,000001_000050,"{caption}"')
    (tmp_path / 'results_2M_val.csv').write_text('\n'.join(rows) + '\n')
    out = str(tmp_path / 'shards')
    shards.write_shards(str(tmp_path / 'results_2M_val.csv'), str(tmp_path / 'videos'), out, 1000)
    samples = load_shard_index(osp.join(out, '00000.tar'))['samples']
    assert [s['captions'] for s in samples] == [[f'{listed[names[0]]} over two lines']] + \
        [[listed[n]] for n in names[1:]]
    assert [s['key'] for s in samples] == ['00000000', '00000001', '00000002']  # 5 + 3 digits

    index = osp.join(out, '00000.tar.idx.json')
    os.remove(index)
    load_script(TOOL).main(['index', out])
    assert load_shard_index(osp.join(out, '00000.tar'))['samples'] == samples
