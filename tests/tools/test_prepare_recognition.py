"""tools/data/prepare_recognition.py (mmstan.datasets.preparation.recognition) on miniature
copies of each dataset's own files: the real names, headers, delimiters, line endings and
id shapes."""
import json
import os.path as osp

import pytest

from conftest import run_tool
from mmstan.datasets.preparation import prepare_recognition
from mmstan.errors import UserError

#: K400 CSV headers: the current release (train.csv / validate.csv), and the files
#: mmaction2's download_backup_annotations.sh fetches (kinetics_{train,val}.csv, with is_cc).
K400_HEADER = 'label,youtube_id,time_start,time_end,split\n'
K400_HEADER_CC = 'label,youtube_id,time_start,time_end,split,is_cc\n'


def read(path):
    return [line.split() for line in open(path).read().splitlines()]


def lines(path):
    return open(path).read().splitlines()


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'')


def k400_layout(root, train_csv='kinetics_train.csv', val_csv='kinetics_val.csv', header=K400_HEADER_CC,
                folder=lambda label: label.replace(' ', '_')):
    """Two classes, one with a space, in mmaction2's downloader layout after its rename step."""
    ann = root / 'annotations'
    ann.mkdir(parents=True)
    cc = ',0' if 'is_cc' in header else ''
    (ann / train_csv).write_text(
        header + f'abseiling,---QUuC4vJs,84,94,train{cc}\n'
        f'air drumming,--nQbRBEz2s,104,114,train{cc}\n'
        f'abseiling,-0gR7vK3ukQ,0,10,train{cc}\n')          # not on disk
    (ann / val_csv).write_text(header + f'air drumming,0wR5jVB-WPk,417,427,val{cc}\n')
    touch(root / 'videos_train' / folder('abseiling') / '---QUuC4vJs_000084_000094.mp4')
    touch(root / 'videos_train' / folder('air drumming') / '--nQbRBEz2s_000104_000114.mp4')
    touch(root / 'videos_val' / folder('air drumming') / '0wR5jVB-WPk_000417_000427.mp4')


def test_k400_mmaction2_layout(tmp_path, capsys):
    """mmaction2's steps: kinetics_{train,val}.csv, class folders renamed with underscores."""
    k400_layout(tmp_path)
    prepare_recognition('k400', str(tmp_path))  # -0gR7vK3ukQ is missing on disk: left out
    assert lines(tmp_path / 'label_map.txt') == ['abseiling', 'air drumming']  # natural names
    assert lines(tmp_path / 'kinetics400_train_list_videos.txt') == [
        'abseiling/---QUuC4vJs_000084_000094.mp4 0', 'air_drumming/--nQbRBEz2s_000104_000114.mp4 1']
    assert lines(tmp_path / 'kinetics400_val_list_videos.txt') == [
        'air_drumming/0wR5jVB-WPk_000417_000427.mp4 1']
    assert '1 of 3 clips not on disk' in capsys.readouterr().out


def test_k400_original_release_names(tmp_path):
    """train.csv / validate.csv (the release's names), quoted labels, CRLF line endings, and
    the older rename that also turned brackets into '-'."""
    ann = tmp_path / 'annotations'
    ann.mkdir()
    label = 'passing American football (in game)'
    (ann / 'train.csv').write_bytes(
        f'label,youtube_id,time_start,time_end,split\r\n"{label}",-5gIbyzaHrM,12,22,train\r\n'
        'abseiling,---QUuC4vJs,84,94,train\r\n'.encode())
    (ann / 'validate.csv').write_bytes(
        f'label,youtube_id,time_start,time_end,split\r\n"{label}",0E8E-tWmbHE,3,13,val\r\n'.encode())
    old_rename = 'passing_American_football_-in_game-'
    touch(tmp_path / 'videos_train' / old_rename / '-5gIbyzaHrM_000012_000022.mp4')
    touch(tmp_path / 'videos_train' / 'abseiling' / '---QUuC4vJs_000084_000094.mp4')
    touch(tmp_path / 'videos_val' / old_rename / '0E8E-tWmbHE_000003_000013.mp4')
    prepare_recognition('k400', str(tmp_path))
    assert lines(tmp_path / 'label_map.txt') == ['abseiling', label]
    assert read(tmp_path / 'kinetics400_val_list_videos.txt') == [
        [f'{old_rename}/0E8E-tWmbHE_000003_000013.mp4', '1']]


def test_k400_spaced_folders_name_the_rename_step(tmp_path):
    """Folders as downloaded (spaces kept) cannot go into a space-separated list."""
    k400_layout(tmp_path, folder=lambda label: label)
    with pytest.raises(UserError, match=r'spaces.*"air drumming".*rename_classnames\.sh'):
        prepare_recognition('k400', str(tmp_path))
    assert not (tmp_path / 'kinetics400_train_list_videos.txt').exists()


def test_k400_empty_split_is_an_error(tmp_path):
    k400_layout(tmp_path)
    for clip in (tmp_path / 'videos_val').rglob('*.mp4'):
        clip.unlink()
    with pytest.raises(UserError, match=r'k400 val: none of the 1 clips .*kinetics_val\.csv.*'
                       r'air_drumming/0wR5jVB-WPk_000417_000427\.mp4'):
        prepare_recognition('k400', str(tmp_path))


def test_k400_recovers_every_class_of_the_real_label_map(tmp_path, shared_data):
    """All 400 classes of mmaction2's label_map_k400.txt, folders renamed as mmaction2 does:
    every class is found (f425ac7 found only the 80 one-word ones) and the label map is
    mmaction2's, line for line."""
    classes = lines(osp.join(shared_data, 'label_maps', 'k400.txt'))
    assert len(classes) == 400
    ann = tmp_path / 'annotations'
    ann.mkdir()
    for split in ('train', 'val'):
        rows = [f'"{c}",{i:011d},{i},{i + 10},{split}' for i, c in enumerate(classes)]
        (ann / f'kinetics_{split}.csv').write_text(K400_HEADER + '\n'.join(rows) + '\n')
        for i, c in enumerate(classes):
            touch(tmp_path / f'videos_{split}' / c.replace(' ', '_') / f'{i:011d}_{i:06d}_{i + 10:06d}.mp4')
    prepare_recognition('k400', str(tmp_path))
    assert lines(tmp_path / 'label_map.txt') == classes
    train = read(tmp_path / 'kinetics400_train_list_videos.txt')
    assert len(train) == 400 and all(len(item) == 2 for item in train)  # no space in a path
    assert {int(label) for _, label in train} == set(range(400))


@pytest.mark.parametrize('content, message', [
    ('label\tyoutube_id\ttime_start\ttime_end\tsplit\nabseiling\t---QUuC4vJs\t84\t94\ttrain\n',
     r'kinetics_train\.csv, line 1: the header has no column label, youtube_id, time_start, '
     r'time_end; expected comma-separated .* \(the line looks tab-separated\)'),
    ('label,youtube_id,split\nabseiling,---QUuC4vJs,train\n',
     r'kinetics_train\.csv, line 1: the header has no column time_start, time_end'),
    (K400_HEADER + 'abseiling,---QUuC4vJs,84\n',
     r'kinetics_train\.csv, line 2: 3 fields where the header has 5'),
    (K400_HEADER + 'abseiling,---QUuC4vJs,start,94,train\n',
     r'kinetics_train\.csv, line 2: time_start/time_end .* not numbers'),
    (K400_HEADER, r'kinetics_train\.csv: no rows after the header'),
])
def test_k400_malformed_csv(tmp_path, content, message):
    k400_layout(tmp_path)
    (tmp_path / 'annotations' / 'kinetics_train.csv').write_text(content)
    with pytest.raises(UserError, match=message):
        prepare_recognition('k400', str(tmp_path))


def test_k400_unknown_val_class(tmp_path):
    k400_layout(tmp_path)
    (tmp_path / 'annotations' / 'kinetics_val.csv').write_text(
        K400_HEADER_CC + 'air drumming,0wR5jVB-WPk,417,427,val,0\nzumba,0wR5jVB-WPk,1,11,val,0\n')
    with pytest.raises(UserError, match=r"kinetics_val\.csv, line 3: class 'zumba' is not in"):
        prepare_recognition('k400', str(tmp_path))


def write_ssv2(ann, train=None):
    ann.mkdir(exist_ok=True)
    (ann / 'something-something-v2-labels.json').write_text(json.dumps(
        {'Approaching something with your camera': '0', 'Holding something next to something': '1'}))
    (ann / 'something-something-v2-train.json').write_text(json.dumps(train or [
        {'id': '78687', 'label': 'holding potato next to vicks vaporub bottle',
         'template': 'Holding [something] next to [something]',
         'placeholders': ['potato', 'vicks vaporub bottle']}]))
    (ann / 'something-something-v2-validation.json').write_text(json.dumps([
        {'id': '74225', 'label': 'approaching a mug with your camera',
         'template': 'Approaching [something] with your camera', 'placeholders': ['a mug']}]))


def test_ssv2(tmp_path):
    write_ssv2(tmp_path / 'annotations')
    prepare_recognition('ssv2', str(tmp_path))
    assert read(tmp_path / 'sthv2_train_list_videos.txt') == [['78687.webm', '1']]
    assert read(tmp_path / 'sthv2_val_list_videos.txt') == [['74225.webm', '0']]
    assert lines(tmp_path / 'label_map.txt')[0] == 'Approaching something with your camera'


@pytest.mark.parametrize('train, message', [
    ([{'id': '1', 'template': 'Holding [something] next to [something]'},
      {'id': '2', 'template': 'Juggling [something]'}],
     r"something-something-v2-train\.json, entry 2: template 'Juggling something' \(video 2\) "
     r'is not a class of .*labels\.json'),
    ([{'id': '1', 'label': 'x'}], r'train\.json, entry 1: .* lacks "id" or "template"'),
])
def test_ssv2_malformed(tmp_path, train, message):
    write_ssv2(tmp_path / 'annotations', train)
    with pytest.raises(UserError, match=message):
        prepare_recognition('ssv2', str(tmp_path))


def write_ucf101(ann, trainlist='ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n'
                 'Archery/v_Archery_g01_c01.avi 3\r\n'):
    ann.mkdir(exist_ok=True)
    # the real files (ucfTrainTestlist) have CRLF line endings
    (ann / 'classInd.txt').write_bytes(b'1 ApplyEyeMakeup\r\n2 ApplyLipstick\r\n3 Archery\r\n')
    (ann / 'trainlist01.txt').write_bytes(trainlist.encode())
    (ann / 'testlist01.txt').write_bytes(b'ApplyLipstick/v_ApplyLipstick_g01_c01.avi\r\n')


def test_ucf101(tmp_path):
    write_ucf101(tmp_path / 'annotations')
    prepare_recognition('ucf101', str(tmp_path))
    assert read(tmp_path / 'ucf101_train_split_1_videos.txt') == [
        ['ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi', '0'], ['Archery/v_Archery_g01_c01.avi', '2']]
    assert read(tmp_path / 'ucf101_val_split_1_videos.txt') == [
        ['ApplyLipstick/v_ApplyLipstick_g01_c01.avi', '1']]
    assert lines(tmp_path / 'label_map.txt') == ['ApplyEyeMakeup', 'ApplyLipstick', 'Archery']


@pytest.mark.parametrize('trainlist, message', [
    ('Bowling/v_Bowling_g01_c01.avi 4\r\n', r"trainlist01\.txt, line 1: class folder 'Bowling' is not in"),
    ('ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi,1\r\n',
     r'trainlist01\.txt, line 1: .* expected "<Class>/<name>\.avi <label>" \(space-separated\) '
     r'\(the line looks comma-separated\)'),
])
def test_ucf101_malformed(tmp_path, trainlist, message):
    write_ucf101(tmp_path / 'annotations', trainlist)
    with pytest.raises(UserError, match=message):
        prepare_recognition('ucf101', str(tmp_path))


def test_hmdb51(tmp_path):
    ann = tmp_path / 'annotations'
    ann.mkdir()
    # the real split files: "<name>.avi <0|1|2> " with a trailing space
    (ann / 'brush_hair_test_split1.txt').write_text(
        'April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \nAmy_Adams_brush_hair_h_nm_np1_le_goo_2.avi 2 \n'
        'Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0.avi 0 \n')
    (ann / 'cartwheel_test_split1.txt').write_text(
        'Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi 2 \n')
    prepare_recognition('hmdb51', str(tmp_path))
    assert read(tmp_path / 'hmdb51_train_split_1_videos.txt') == [
        ['brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi', '0']]
    assert [label for _, label in read(tmp_path / 'hmdb51_val_split_1_videos.txt')] == ['0', '1']


def test_hmdb51_wrong_delimiter_is_an_error(tmp_path):
    """Comma-separated split files used to "succeed" with no video at all."""
    ann = tmp_path / 'annotations'
    ann.mkdir()
    (ann / 'brush_hair_test_split1.txt').write_text('April_09_brush_hair_u_nm_np1_ba_goo_0.avi,1\n')
    with pytest.raises(UserError, match=r'brush_hair_test_split1\.txt, line 1: .*space-separated.*'
                       r'\(the line looks comma-separated\)'):
        prepare_recognition('hmdb51', str(tmp_path))
    assert not (tmp_path / 'label_map.txt').exists()


def test_missing_annotations_are_named(tmp_path):
    with pytest.raises(UserError, match='annotation file not found: .*train.csv; also looked for '
                       'kinetics_train.csv'):
        prepare_recognition('k400', str(tmp_path))


def test_cli_prints_one_error_line(tmp_path):
    ann = tmp_path / 'annotations'
    ann.mkdir()
    (ann / 'classInd.txt').write_text('1,ApplyEyeMakeup\n')
    proc = run_tool(['tools/data/prepare_recognition.py', 'ucf101', '--root', str(tmp_path)])
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(error) == 1 and 'classInd.txt, line 1' in error[0], proc.stderr
