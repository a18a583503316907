"""The baseline configs (CLIP4Clip meanP / seqTransf, CLIP2Video): the STAN retrieval
recipe with another video head, and tools/train.py + tools/test.py on each (tiny CLIP,
synthetic captions) with the retrieval metric."""
import os.path as osp
import re

import pytest
from mmengine.config import Config

from conftest import ROOT, TINY_ARCH, run_tool
from mmstan.datasets.synthetic import write_synthetic_retrieval

BASELINES = {  # config -> (head type, the STAN config trained on the same data)
    'clip4clip_meanp_msrvtt': ('MeanPHead', 'msrvtt'),
    'clip4clip_seqtransf_msrvtt': ('SeqTransfHead', 'msrvtt'),
    'clip2video_msrvtt': ('CLIP2VideoHead', 'msrvtt'),
    'clip2video_msvd': ('CLIP2VideoHead', 'msvd'),
}


def _config(name):
    return Config.fromfile(osp.join(ROOT, 'configs', 'baselines', f'{name}.py'))


@pytest.mark.parametrize('name', sorted(BASELINES))
def test_baseline_is_the_stan_recipe_with_another_head(name):
    cfg = _config(name)
    head_type, dataset = BASELINES[name]
    stan = Config.fromfile(osp.join(ROOT, 'configs', 'stan', f'{dataset}.py'))
    model = cfg.model
    assert model.type == 'VideoTextRetriever' and model.backbone == dict(type='CLIPMeanPool')
    assert model.clip == stan.model.clip == dict(arch='ViT-B-32', pretrained='openai')
    assert model.head.type == head_type and model.logit_scale == stan.model.logit_scale
    if name == 'clip4clip_meanp_msrvtt':
        assert model.head == dict(type='MeanPHead')
    if name == 'clip4clip_seqtransf_msrvtt':
        assert model.head.num_layers == 4 and model.head.similarity == dict(type='MeanPHead')
    if head_type == 'CLIP2VideoHead':  # [C2V] §4.1-4.2: L_t = 4, K = 5 (MSR-VTT, MSVD), w = 0.5
        assert (model.head.num_layers, model.head.num_centers, model.head.global_weight) == (4, 5, 0.5)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
                'test_evaluator', 'val_cfg', 'test_cfg', 'train_cfg', 'param_scheduler'):
        assert cfg[key] == stan[key], key
    opt, stan_opt = cfg.optim_wrapper.to_dict(), stan.optim_wrapper.to_dict()
    assert opt['paramwise_cfg']['custom_keys'].pop('head.') == dict(lr_mult=10.0)
    assert opt == stan_opt
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert next(t for t in pipeline if t['type'] == 'UniformSample')['clip_len'] == 12
    assert next(t for t in pipeline if t['type'] == 'OpenCLIPTokenize')['context_length'] == 32


TINY_WRAPPER = '''_base_ = [{config!r}]
from mmstan.utils.pipeline_edit import with_step_args  # noqa: E402
model = dict(clip=dict(arch=dict(_delete_=True, **{arch!r}), pretrained=None),
             backbone=dict(input_resolution=32))
_small = dict(scale=(32, 32), keep_ratio=False)
train_dataloader = dict(dataset=dict(pipeline=with_step_args(_base_.train_pipeline, 'Resize', **_small)))
val_dataloader = dict(dataset=dict(pipeline=with_step_args(
    with_step_args(_base_.test_pipeline, 'Resize', **_small), 'CenterCrop', crop_size=32)))
test_dataloader = val_dataloader
'''


@pytest.fixture(scope='module')
def synthetic_retrieval(tmp_path_factory):
    """8 training videos x 2 captions (16 pairs: 2 iterations of 8), 6 test videos."""
    out = tmp_path_factory.mktemp('synthetic_retrieval')
    write_synthetic_retrieval(str(out), num_train=8, num_test=6, captions=2)
    return str(out)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(BASELINES))
def test_baseline_trains_two_iterations_and_evaluates(name, synthetic_retrieval, tmp_path):
    config = tmp_path / f'tiny_{name}.py'
    config.write_text(TINY_WRAPPER.format(
        config=osp.join(ROOT, 'configs', 'baselines', f'{name}.py'), arch=TINY_ARCH))
    work = str(tmp_path / 'work')
    opts = ['train_cfg.max_epochs=1', 'optim_wrapper.type=OptimWrapper',  # CPU: no AMP
            'default_hooks.logger.interval=1']
    for loader, ann in (('train_dataloader', 'train.json'), ('val_dataloader', 'test.json'),
                        ('test_dataloader', 'test.json')):
        opts += [f'{loader}.dataset.data_root={synthetic_retrieval}', f'{loader}.dataset.ann_file={ann}',
                 f'{loader}.batch_size=8', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    proc = run_tool(['tools/train.py', str(config), '--work-dir', work, '--cfg-options', *opts])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert re.search(r'Epoch\(train\)\s+\[1\]\[2/2\]', log), log[-3000:]  # two iterations
    assert re.search(r'retrieval/t2v/R1: [0-9.]+', log), log[-3000:]
    proc = run_tool(['tools/test.py', str(config), osp.join(work, 'epoch_1.pth'), '--work-dir', work,
                     '--cfg-options', *opts])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert re.search(r'retrieval/t2v/R1: [0-9.]+', log) and 'retrieval/v2t/R1' in log, log[-3000:]


@pytest.mark.slow
def test_compare_heads_prints_measured_table(synthetic_retrieval, tmp_path):
    """tools/analysis/compare_heads.py: one epoch, one seed, two heads; the table holds the
    runs' own R@1 (the test loop's metric), not numbers written in the script."""
    proc = run_tool(['tools/analysis/compare_heads.py', '--data', synthetic_retrieval, '--epochs', '1',
                     '--seeds', '3', '--heads', 'mean', 'clip2video', '--work-dir', str(tmp_path)])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    runs = dict(re.findall(r'\] (.+), seed 3: t2v R@1 ([0-9.]+), final train loss', log))
    assert set(runs) == {'mean pooling (CLIP4Clip meanP)', 'CLIP2Video (TDB + TAB, K=5)'}, log[-3000:]
    assert '(6 videos, 12 captions; chance 16.7)' in log and '1-epoch' in log
    for label, r1 in runs.items():
        row = next(line for line in log.splitlines() if line.startswith(f'| {label}'))
        cells = [c.strip() for c in row.strip('|').split('|')]
        assert cells[2] == cells[3] == r1 and 0 <= float(r1) <= 100 and float(cells[4]) > 0, row
        assert (cells[1] == '0') == label.startswith('mean pooling'), row  # CLIP2Video has parameters
