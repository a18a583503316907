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
    assert cfg.val_evaluator.head.mode == model.head.mode
    didemo = name.startswith('didemo')
    frames, tokens = (64, 64) if didemo else (12, 32)
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert next(t for t in pipeline if t['type'] == 'UniformSample')['clip_len'] == frames
    assert next(t for t in pipeline if t['type'] == 'OpenCLIPTokenize')['context_length'] == tokens
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
    ds = VideoCaptionDataset(ann_file=osp.join(shared_data, 'annotations', 'video_text_test_list.json'),
                             data_prefix=dict(video=shared_data), pipeline=[], test_mode=True)
    assert len(ds) == 2
    info = [ds.get_data_info(i) for i in range(2)]
    assert {i['video_id'] for i in info} == {0} and info[0]['filename'].endswith('test.mp4')
    concat = VideoCaptionDataset(ann_file=osp.join(shared_data, 'annotations',
                                                   'video_text_test_list.json'),
                                 data_prefix=dict(video=shared_data), pipeline=[],
                                 concat_captions=True)
    assert len(concat) == 1 and 'swimming pool A person' in concat.get_data_info(0)['text']


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
