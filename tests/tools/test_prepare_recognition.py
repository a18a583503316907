"""tools/data/prepare_recognition.py on miniature copies of each dataset's own files."""
import json
import os.path as osp
import sys

import pytest

from conftest import ROOT
from mmstan.errors import UserError

sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
from prepare_recognition import main  # noqa: E402


def read(path):
    return [line.split() for line in open(path).read().splitlines()]


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'')


def test_k400(tmp_path):
    (tmp_path / 'annotations').mkdir()
    header = 'label,youtube_id,time_start,time_end,split\n'
    (tmp_path / 'annotations' / 'train.csv').write_text(
        header + 'abseiling,aaa,10,20,train\nair drumming,bbb,0,10,train\nabseiling,ccc,5,15,train\n')
    (tmp_path / 'annotations' / 'val.csv').write_text(header + 'air drumming,ddd,1,11,val\n')
    touch(tmp_path / 'videos_train' / 'abseiling' / 'aaa_000010_000020.mp4')
    touch(tmp_path / 'videos_train' / 'air drumming' / 'bbb_000000_000010.mp4')
    touch(tmp_path / 'videos_val' / 'air drumming' / 'ddd_000001_000011.mp4')
    main(['k400', '--root', str(tmp_path)])  # ccc is missing on disk: left out
    assert open(tmp_path / 'label_map.txt').read().splitlines() == ['abseiling', 'air drumming']
    train = open(tmp_path / 'kinetics400_train_list_videos.txt').read().splitlines()
    assert train == ['abseiling/aaa_000010_000020.mp4 0', 'air drumming/bbb_000000_000010.mp4 1']
    assert read(tmp_path / 'kinetics400_val_list_videos.txt')[0][-1] == '1'


def test_ssv2(tmp_path):
    ann = tmp_path / 'annotations'
    ann.mkdir()
    (ann / 'something-something-v2-labels.json').write_text(json.dumps(
        {'Pushing something from left to right': '1', 'Approaching something with your camera': '0'}))
    (ann / 'something-something-v2-train.json').write_text(json.dumps(
        [{'id': '7', 'template': 'Pushing [something] from left to right'}]))
    (ann / 'something-something-v2-validation.json').write_text(json.dumps(
        [{'id': '9', 'template': 'Approaching [something] with your camera'}]))
    main(['ssv2', '--root', str(tmp_path)])
    assert read(tmp_path / 'sthv2_train_list_videos.txt') == [['7.webm', '1']]
    assert read(tmp_path / 'sthv2_val_list_videos.txt') == [['9.webm', '0']]
    assert open(tmp_path / 'label_map.txt').read().splitlines()[0].startswith('Approaching')


def test_ucf101(tmp_path):
    ann = tmp_path / 'annotations'
    ann.mkdir()
    (ann / 'classInd.txt').write_text('1 ApplyEyeMakeup\n2 Archery\n')
    (ann / 'trainlist01.txt').write_text('Archery/v_Archery_g01_c01.avi 2\n')
    (ann / 'testlist01.txt').write_text('ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n')
    main(['ucf101', '--root', str(tmp_path)])
    assert read(tmp_path / 'ucf101_train_split_1_videos.txt') == [['Archery/v_Archery_g01_c01.avi', '1']]
    assert read(tmp_path / 'ucf101_val_split_1_videos.txt')[0][1] == '0'


def test_hmdb51(tmp_path):
    ann = tmp_path / 'annotations'
    ann.mkdir()
    (ann / 'brush_hair_test_split1.txt').write_text('a.avi 1\nb.avi 2\nc.avi 0\n')
    (ann / 'cartwheel_test_split1.txt').write_text('d.avi 2\n')
    main(['hmdb51', '--root', str(tmp_path)])
    assert read(tmp_path / 'hmdb51_train_split_1_videos.txt') == [['brush_hair/a.avi', '0']]
    assert read(tmp_path / 'hmdb51_val_split_1_videos.txt') == [['brush_hair/b.avi', '0'],
                                                                 ['cartwheel/d.avi', '1']]


def test_missing_annotations_are_named(tmp_path):
    with pytest.raises(UserError, match='annotation file not found: .*train.csv'):
        main(['k400', '--root', str(tmp_path)])
