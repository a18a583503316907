"""Retrieval configs, data conversion, and training end to end on synthetic captions."""
import json
import os
import os.path as osp
import pickle
import re
import shutil

import pytest
from mmengine.config import Config

from conftest import ROOT, run_tool
from mmstan.datasets.preparation import prepare_retrieval
from mmstan.datasets.synthetic import write_synthetic_retrieval
from mmstan.errors import UserError

RETRIEVAL = ['msrvtt', 'didemo', 'lsmdc', 'msvd']


@pytest.mark.parametrize('family', ['stan', 'mugstan'])
@pytest.mark.parametrize('name', RETRIEVAL + [f'{n}_b16' for n in RETRIEVAL])
def test_retrieval_recipes(family, name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', family, f'{name}.py'))
    model = cfg.model
    assert model.type == 'VideoTextRetriever' and model.backbone.type == 'CLIPSTAN'
    arch = 'ViT-B-16' if name.endswith('_b16') else 'ViT-B-32'
    # one CLIP for both towers, so they cannot differ (the official code's bug #16)
    assert model.clip.arch == arch and 'arch' not in model.backbone
    assert model.head == (dict(type='MugHead', mode='mug') if family == 'mugstan' else dict(type='MeanPHead'))
    # the model's head is the only scorer; videos and captions are encoded once each
    assert cfg.val_evaluator == dict(type='TextVideoRetrievalMetric') == cfg.test_evaluator
    assert cfg.val_cfg.type == 'VideoTextRetrievalValLoop'
    assert cfg.test_cfg.type == 'VideoTextRetrievalTestLoop'
    didemo = name.startswith('didemo')
    frames, tokens = (64, 64) if didemo else (12, 32)
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert next(t for t in pipeline if t['type'] == 'UniformSample')['clip_len'] == frames
    assert next(t for t in pipeline if t['type'] == 'OpenCLIPTokenize')['context_length'] == tokens
    test = cfg.test_dataloader.dataset
    assert test.test_mode and not any(t['type'] == 'OpenCLIPTokenize' for t in test.pipeline)
    assert next(t for t in test.pipeline if t['type'] == 'UniformSample')['clip_len'] == frames
    tokenize = next(t for t in test.caption_pipeline if t['type'] == 'OpenCLIPTokenize')
    assert tokenize['context_length'] == tokens
    assert test.get('concat_captions', False) == didemo
    assert cfg.train_dataloader.dataset.get('concat_captions', False) == didemo
    opt = cfg.optim_wrapper
    assert opt.optimizer.lr == 2e-6 and opt.optimizer.weight_decay == 0.02
    assert opt.paramwise_cfg.custom_keys['backbone.stan'].lr_mult == 10
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == cosine.begin and cosine.end == cfg.train_cfg.max_epochs  # warmup ends


def test_webvid_pretrain_recipe():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mugstan', 'webvid_pretrain.py'))
    assert cfg.optim_wrapper.optimizer.lr == 4e-6 and cfg.optim_wrapper.optimizer.weight_decay == 0.001
    assert cfg.auto_scale_lr.base_batch_size == 1024 and cfg.train_cfg.max_epochs == 3
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert next(t for t in pipeline if t['type'] == 'OpenCLIPTokenize')['context_length'] == 64
    assert next(t for t in pipeline if t['type'] == 'UniformSample')['clip_len'] == 12


@pytest.mark.parametrize('name', ['hmdb51', 'ucf101', 'k400', 'msrvtt', 'didemo', 'lsmdc'])
def test_zero_shot_configs(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mugstan', f'zeroshot_{name}.py'))
    if name in ('hmdb51', 'ucf101', 'k400'):
        assert cfg.model.cls_head.type == 'TextClassHead'
        assert cfg.model.cls_head.classes.endswith('label_map.txt')
    else:
        assert cfg.model.head.mode == 'mug'


def write_msrvtt(ann):
    """CLIP4Clip's msrvtt_data.zip: MSRVTT_data.json, MSRVTT_train.9k.csv, MSRVTT_JSFUSION_test.csv."""
    ann.mkdir(exist_ok=True)
    (ann / 'MSRVTT_data.json').write_text(json.dumps({
        'info': {'year': 2016}, 'videos': [
            {'category': 9, 'url': 'https://www.youtube.com/watch?v=9lZi22qLlEo', 'video_id': 'video0',
             'start time': 137.72, 'end time': 149.44, 'split': 'train', 'id': 0}],
        'sentences': [{'caption': 'a car is shown', 'video_id': 'video0', 'sen_id': 0},
                      {'caption': 'a man drives', 'video_id': 'video0', 'sen_id': 1},
                      {'caption': 'a person is connecting something to system', 'video_id': 'video7010',
                       'sen_id': 140200}]}))
    (ann / 'MSRVTT_train.9k.csv').write_text('video_id\nvideo0\n')
    (ann / 'MSRVTT_JSFUSION_test.csv').write_text(
        'key,vid_key,video_id,sentence\nret0,msr7010,video7010,"a person, at a desk, is typing"\n')


def test_prepare_msrvtt(tmp_path):
    write_msrvtt(tmp_path / 'annotations')
    prepare_retrieval('msrvtt', str(tmp_path))
    assert json.load(open(tmp_path / 'train_9k.json')) == {'video0.mp4': ['a car is shown', 'a man drives']}
    assert json.load(open(tmp_path / 'test_1k.json')) == {'video7010.mp4': ['a person, at a desk, is typing']}


@pytest.mark.parametrize('train_name, test_name, where, keys', [
    # tools/data/video_retrieval/prepare_msrvtt.py (data/video_retrieval/msrvtt/*.json)
    ('train_9k.json', 'test_JSFUSION.json', '', lambda v: f'{v}.mp4'),
    ('train_9k.json', 'test_JSFUSION.json', '', lambda v: v),  # its older version: no extension
    # tools/data/msrvtt (VindLU's annotations/msrvtt_ret_*.json, [{video, caption}] lists)
    ('msrvtt_ret_train9k.json', 'msrvtt_ret_test1k.json', 'annotations', None),
])
def test_prepare_msrvtt_from_mmaction2(tmp_path, train_name, test_name, where, keys):
    folder = tmp_path / where
    folder.mkdir(exist_ok=True)
    if keys is None:
        train = [{'video': 'video0.mp4', 'caption': ['a car is shown', 'a man drives']}]
        test = [{'video': 'video7010.mp4', 'caption': 'a person is typing'}]
    else:
        train = {keys('video0'): ['a car is shown', 'a man drives']}
        test = {keys('video7010'): ['a person is typing']}
    (folder / train_name).write_text(json.dumps(train))
    (folder / test_name).write_text(json.dumps(test))
    prepare_retrieval('msrvtt', str(tmp_path))
    assert json.load(open(tmp_path / 'train_9k.json')) == {'video0.mp4': ['a car is shown', 'a man drives']}
    assert json.load(open(tmp_path / 'test_1k.json')) == {'video7010.mp4': ['a person is typing']}


#: DiDeMo's annotated names keep the upload's extension, some end in a bare '.'.
DIDEMO_VIDEOS = ['10015567@N08_3655084291_d8b58466fa.mov', '10123974@N03_4224785924_a91bb6c6a1.avi',
                 '13301185@N02_2580412393_9d1d02e9ab.3gp', '26074536@N00_4484447536_3dc5d1aa72.mpg',
                 '38798290@N00_2963584452_ee1b6a0d0a.']


def write_didemo(ann, videos=DIDEMO_VIDEOS):
    ann.mkdir(exist_ok=True)
    for split in ('train', 'val', 'test'):
        (ann / f'{split}_data.json').write_text(json.dumps([
            {'num_segments': 6, 'video': v, 'annotation_id': 100 + i, 'times': [[2, 2], [2, 3]],
             'description': f'the ball is thrown {i} ', 'dl_link': 'https://www.flickr.com/video_download.gne?id=1'}
            for i, v in enumerate(videos)] + [{'video': videos[0], 'description': 'a dog runs',
                                               'times': [[0, 0]], 'annotation_id': 1}]))


@pytest.mark.parametrize('names, on_disk', [
    ('name.mp4', lambda v: f'{v}.mp4'),                  # LocalizingMoments' download_videos_AWS.py
    ('stem.mp4', lambda v: f'{v.rsplit(".", 1)[0]}.mp4'),
    ('as-annotated', lambda v: v),
])
def test_prepare_didemo_video_names(tmp_path, capsys, names, on_disk):
    write_didemo(tmp_path / 'annotations')
    (tmp_path / 'videos').mkdir()
    for v in DIDEMO_VIDEOS[:-1]:  # the last one is no longer available
        (tmp_path / 'videos' / on_disk(v)).write_bytes(b'')
    for option in ({}, dict(video_names=names)):  # the default (auto) finds the naming
        prepare_retrieval('didemo', str(tmp_path), **option)
        test = json.load(open(tmp_path / 'test.json'))
        assert list(test) == [on_disk(v) for v in DIDEMO_VIDEOS]
        assert test[on_disk(DIDEMO_VIDEOS[0])] == ['the ball is thrown 0', 'a dog runs']
        assert '4 of 5 annotated videos found' in capsys.readouterr().out
    if names == 'name.mp4':
        assert '38798290@N00_2963584452_ee1b6a0d0a..mp4' in test


def test_prepare_didemo_wrong_names_or_no_videos(tmp_path):
    write_didemo(tmp_path / 'annotations')
    with pytest.raises(UserError, match=r'videos folder not found: .*--video-names'):
        prepare_retrieval('didemo', str(tmp_path))
    (tmp_path / 'videos').mkdir()
    for v in DIDEMO_VIDEOS:
        (tmp_path / 'videos' / f'{v}.mp4').write_bytes(b'')
    with pytest.raises(UserError, match=r'didemo train: none of the 5 videos .*d8b58466fa\.mp4\); '
                       r'check the folder or --video-names'):
        prepare_retrieval('didemo', str(tmp_path), video_names='stem.mp4')


LSMDC_ROW = '{clip}\t00.00.51.926\t00.00.54.129\t00.00.51.926\t00.00.54.129\t{sentence}\n'


def write_lsmdc(ann):
    ann.mkdir(exist_ok=True)
    rows = {'training': ('0001_American_Beauty_00.00.51.926-00.00.54.129', 'SOMEONE stands.'),
            'val': ('1010_TITANIC_00.41.32.072-00.41.40.196', 'SOMEONE runs.'),
            'test': ('1004_Juno_00.00.32.849-00.00.38.472', 'SOMEONE walks.')}
    for name, (clip, sentence) in rows.items():
        (ann / f'LSMDC16_annos_{name}.csv').write_text(
            LSMDC_ROW.format(clip=clip, sentence=sentence) * (2 if name == 'test' else 1))
    (ann / 'LSMDC16_challenge_1000_publictect.csv').write_text(LSMDC_ROW.format(
        clip='1012_Unbreakable_00.05.16.065-00.05.21.941', sentence='SOMEONE looks at SOMEONE.'))


def test_prepare_lsmdc_tests_on_the_1000_clip_benchmark(tmp_path):
    write_lsmdc(tmp_path / 'annotations')
    prepare_retrieval('lsmdc', str(tmp_path))
    assert json.load(open(tmp_path / 'train.json')) == {
        '0001_American_Beauty/0001_American_Beauty_00.00.51.926-00.00.54.129.avi': ['SOMEONE stands.']}
    assert json.load(open(tmp_path / 'test_1k.json')) == {
        '1012_Unbreakable/1012_Unbreakable_00.05.16.065-00.05.21.941.avi': ['SOMEONE looks at SOMEONE.']}
    assert json.load(open(tmp_path / 'test_10k.json')) == {  # the ~10k public test, own name
        '1004_Juno/1004_Juno_00.00.32.849-00.00.38.472.avi': ['SOMEONE walks.'] * 2}
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'stan', 'lsmdc.py'))
    assert cfg.test_dataloader.dataset.ann_file == 'test_1k.json' == cfg.val_dataloader.dataset.ann_file


def write_msvd(ann):
    ann.mkdir(exist_ok=True)
    with open(ann / 'raw-captions.pkl', 'wb') as f:
        pickle.dump({'-4wsuPCjDBc_5_15': [['a', 'squirrel', 'is', 'eating'], ['a', 'pet', 'eats']],
                     '-7KMZQEsJW4_205_208': [['a', 'man', 'sings']]}, f)
    for split in ('train', 'val', 'test'):
        (ann / f'{split}_list.txt').write_text('-4wsuPCjDBc_5_15\n-7KMZQEsJW4_205_208\n')


def test_prepare_msvd_webvid(tmp_path):
    ann = tmp_path / 'annotations'
    write_msvd(ann)
    prepare_retrieval('msvd', str(tmp_path))
    assert json.load(open(tmp_path / 'test.json')) == {
        '-4wsuPCjDBc_5_15.avi': ['a squirrel is eating', 'a pet eats'],
        '-7KMZQEsJW4_205_208.avi': ['a man sings']}
    (ann / 'results_10M_train.csv').write_text(
        'videoid,contentUrl,duration,page_idx,page_dir,name\n'
        '21179416,https://ak.picdn.net/shutterstock/videos/21179416/preview/stock-footage-a.mp4,'
        'PT00H00M11S,1,006001_006050,"Aerial shot, winter forest"\n')
    prepare_retrieval('webvid', str(tmp_path))
    assert json.load(open(tmp_path / 'results_10M_train.json')) == [
        dict(video='006001_006050/21179416.mp4', caption='Aerial shot, winter forest')]


@pytest.mark.parametrize('dataset, write, file, content, message', [
    ('msrvtt', write_msrvtt, 'MSRVTT_JSFUSION_test.csv',
     'key\tvid_key\tvideo_id\tsentence\nret0\tmsr7010\tvideo7010\ta\n',
     r'MSRVTT_JSFUSION_test\.csv, line 1: the header has no column video_id, sentence; expected '
     r'comma-separated columns video_id,sentence \(the line looks tab-separated\)'),
    ('msrvtt', write_msrvtt, 'MSRVTT_train.9k.csv', 'video_id\nvideo0\nvideo12\n',
     r"MSRVTT_train\.9k\.csv, line 3: video id 'video12' has no caption in .*MSRVTT_data\.json"),
    ('msrvtt', write_msrvtt, 'MSRVTT_train.9k.csv', 'vid\nvideo0\n',
     r'MSRVTT_train\.9k\.csv, line 1: the header has no column video_id'),
    ('msrvtt', write_msrvtt, 'MSRVTT_data.json', '{"videos": []}', r'MSRVTT_data\.json: no "sentences" list'),
    ('lsmdc', write_lsmdc, 'LSMDC16_annos_training.csv',
     '0001_American_Beauty_00.00.51.926-00.00.54.129,00.00.51.926,00.00.54.129,00.00.51.926,00.00.54.129,SOMEONE\n',
     r'LSMDC16_annos_training\.csv, line 1: 1 field\(s\) .* expected 6 tab-separated fields: clip id.*'
     r'\(the line looks comma-separated\)'),
    ('lsmdc', write_lsmdc, 'LSMDC16_challenge_1000_publictect.csv', '\n',
     r'LSMDC16_challenge_1000_publictect\.csv has no lines; expected 6 tab-separated'),
    ('msvd', write_msvd, 'test_list.txt', '-4wsuPCjDBc_5_15\nvideo_unknown\n',
     r"test_list\.txt, line 2: video 'video_unknown' is not in .*raw-captions\.pkl"),
    ('didemo', write_didemo, 'val_data.json', '[{"video": "a.mov"}]',
     r'val_data\.json, entry 1: .* lacks "video" or "description"'),
])
def test_prepare_malformed_inputs_name_file_and_line(tmp_path, dataset, write, file, content, message):
    write(tmp_path / 'annotations')
    (tmp_path / 'annotations' / file).write_text(content)
    names = dict(video_names='as-annotated') if dataset == 'didemo' else {}
    with pytest.raises(UserError, match=message):
        prepare_retrieval(dataset, str(tmp_path), **names)


def test_prepare_names_missing_file(tmp_path):
    with pytest.raises(UserError, match="annotation file not found: .*MSRVTT_data.json; .*msrvtt_data.zip"):
        prepare_retrieval('msrvtt', str(tmp_path))
    write_lsmdc(tmp_path / 'annotations')
    os.remove(tmp_path / 'annotations' / 'LSMDC16_challenge_1000_publictect.csv')
    with pytest.raises(UserError, match='annotation file not found: .*LSMDC16_challenge_1000_publictect.csv'):
        prepare_retrieval('lsmdc', str(tmp_path))


def test_prepare_cli_prints_one_error_line(tmp_path):
    write_lsmdc(tmp_path / 'annotations')
    (tmp_path / 'annotations' / 'LSMDC16_annos_val.csv').write_text('1010_TITANIC,SOMEONE runs.\n')
    proc = run_tool(['tools/data/prepare_retrieval.py', 'lsmdc', '--root', str(tmp_path)])
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(error) == 1 and 'LSMDC16_annos_val.csv, line 1' in error[0], proc.stderr


def _r1(log):
    return [float(x) for x in re.findall(r'retrieval/t2v/R1: ([0-9.]+)', log)]


@pytest.mark.slow
def test_train_and_test_retrieval_beats_chance(synthetic_motion, tmp_path, shared_data_optional):
    """tools/train.py + tools/test.py on the synthetic captions: R@1 well above chance.
    (Mug over the caption's tokens without [SOT], as the demo config has it; with [SOT]
    seed 0 collapsed to 2 ln B, tests/models/test_mug_sot_collapse.py.)"""
    config = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
    work = str(tmp_path / 'work')
    root = tmp_path / 'data'
    (root / 'videos').mkdir(parents=True)
    for split in ('train', 'val'):
        os.symlink(osp.join(synthetic_motion, 'videos', split), root / 'videos' / split)
    shutil.copy(osp.join(synthetic_motion, 'train_captions.json'), root)
    val = json.load(open(osp.join(synthetic_motion, 'val_captions.json')))
    videos = len(val)
    if shared_data_optional:  # mmaction2's own test video and captions (VideoTextDataset format)
        os.symlink(osp.join(shared_data_optional, 'test.mp4'), root / 'videos' / 'test.mp4')
        val.update(json.load(open(osp.join(shared_data_optional, 'annotations',
                                           'video_text_test_list.json'))))
        videos += 1
    json.dump(val, open(root / 'val_captions.json', 'w'))
    loaders = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loaders += [f'{loader}.dataset.data_root={root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False', f'{loader}.batch_size=16']
    opts = ['train_cfg.max_epochs=8', 'param_scheduler.1.T_max=7', 'param_scheduler.1.end=8',
            'default_hooks.logger.interval=5', *loaders]
    proc = run_tool(['tools/train.py', config, '--work-dir', work, '--cfg-options', *opts],
                    timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r1 = _r1(proc.stdout + proc.stderr)
    chance = 100 / videos  # one right video per caption
    print(f't2v R@1 per epoch {r1}, chance {chance:.1f}')
    assert len(r1) == 8 and max(r1) >= 3 * chance, r1
    proc = run_tool(['tools/test.py', config, osp.join(work, 'epoch_8.pth'), '--work-dir', work,
                     '--cfg-options', *opts])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'retrieval/v2t/R1' in proc.stdout + proc.stderr


def test_caption_dataset_reads_mmaction_format(shared_data):
    from mmstan.datasets import VideoCaptionDataset
    ann = osp.join(shared_data, 'annotations', 'video_text_test_list.json')
    expected = json.load(open(ann))  # mmaction2's own file: {video: [captions]}
    pairs = VideoCaptionDataset(ann_file=ann, data_prefix=dict(video=shared_data), pipeline=[])
    assert len(pairs) == sum(len(c) for c in expected.values())
    info = [pairs.get_data_info(i) for i in range(len(pairs))]
    assert {i['video_id'] for i in info} == {0} and info[0]['filename'].endswith('test.mp4')
    # test mode: one sample per video, its captions listed once (ground truth for the metric)
    videos = VideoCaptionDataset(ann_file=ann, data_prefix=dict(video=shared_data), pipeline=[],
                                 test_mode=True)
    assert len(videos) == len(expected) == 1 and videos.get_data_info(0)['video_id'] == 0
    captions, owner = videos.caption_list()
    assert captions == list(expected.values())[0] and owner == [0] * len(captions)
    concat = VideoCaptionDataset(ann_file=ann, data_prefix=dict(video=shared_data), pipeline=[],
                                 concat_captions=True, test_mode=True)
    assert concat.caption_list() == ([' '.join(list(expected.values())[0])], [0])
    assert 'swimming pool A person' in concat.caption_list()[0][0]


def test_per_video_layout_ground_truth_and_query_bank(tmp_path):
    """Several captions per video (MSVD), unreadable videos dropped with their captions,
    and a QB-Norm query bank read from the training annotation."""
    from mmstan.datasets import VideoCaptionDataset
    write_synthetic_retrieval(str(tmp_path), num_train=3, num_test=4, captions=2)
    test = json.load(open(tmp_path / 'test.json'))
    os.remove(tmp_path / 'videos' / list(test)[1])  # a missing video
    tokenize = [dict(type='OpenCLIPTokenize', context_length=16),
                dict(type='PackActionInputs', collect_keys=('text', ))]
    ds = VideoCaptionDataset(ann_file='test.json', data_root=str(tmp_path), data_prefix=dict(video='videos'),
                             pipeline=[], caption_pipeline=tokenize, test_mode=True,
                             query_bank=dict(ann_file='train.json', max_captions=4))
    kept = [v for i, v in enumerate(test) if i != 1]
    assert [ds.get_data_info(i)['filename'] for i in range(len(ds))] == [
        osp.join(str(tmp_path), 'videos', v) for v in kept]
    captions, owner = ds.caption_list()
    assert captions == [c for v in kept for c in test[v]] and owner == [0, 0, 1, 1, 2, 2]
    item = ds.caption_dataset(captions)[3]
    assert item['inputs']['text'].shape == (16, )
    train = [c for caps in json.load(open(tmp_path / 'train.json')).values() for c in caps]
    assert ds.query_bank_captions() == [train[0], train[1], train[3], train[4]]  # 6 -> 4, evenly


def test_test_pipeline_must_not_tokenize(tmp_path):
    from mmstan.datasets import VideoCaptionDataset
    ann = tmp_path / 'test.json'
    ann.write_text('{"a.mp4": ["a cat"]}')
    with pytest.raises(UserError, match='caption_pipeline'):
        VideoCaptionDataset(ann_file=str(ann), pipeline=[dict(type='OpenCLIPTokenize')],
                            test_mode=True, check_videos=False)


def test_caption_dataset_errors(tmp_path):
    from mmstan.datasets import VideoCaptionDataset
    bad = tmp_path / 'bad.json'
    bad.write_text('{"a.mp4": [')
    with pytest.raises(UserError, match='not valid JSON'):
        VideoCaptionDataset(ann_file=str(bad), pipeline=[])
    bad.write_text('[{"video": "a.mp4"}]')
    with pytest.raises(UserError, match='"video" and "caption"'):
        VideoCaptionDataset(ann_file=str(bad), pipeline=[])
    with pytest.raises(UserError, match='annotation file not found'):
        VideoCaptionDataset(ann_file=str(tmp_path / 'none.json'), pipeline=[])
