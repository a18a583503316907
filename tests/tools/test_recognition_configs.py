"""The full-size recognition configs build and train through tools/train.py."""
import os
import os.path as osp
import shutil

import pytest
from mmengine.config import Config

from conftest import ROOT, run_tool

RECOGNITION = ['k400', 'k400_16f', 'k400_conv', 'k400_b32', 'ssv2', 'ssv2_16f', 'hmdb51', 'ucf101']


@pytest.mark.parametrize('name', RECOGNITION)
def test_recipe(name):
    """STAN's fine-tuning recipe ([S] §4.1: lr 2e-6 with STAN at 10x "for all datasets",
    wd 0.02, global batch 128; tests/test_recipes.py checks every config's numbers)."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'stan', f'{name}.py'))
    assert cfg.model.backbone.type == 'CLIPSTAN'
    assert cfg.model.backbone.num_layers == (6 if name.startswith('ssv2') else 4)
    frames = 16 if name.endswith('16f') else 8
    assert cfg.model.backbone.num_frames == frames
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        sample = [t for t in cfg[loader].dataset.pipeline if t['type'] == 'UniformSample']
        assert sample[0]['clip_len'] == frames, loader
    assert any(t['type'] == 'ThreeCrop' for t in cfg.test_dataloader.dataset.pipeline)
    flips = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'Flip']
    assert (not flips) if name.startswith('ssv2') else flips  # SSv2 has left/right classes
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and optim.optimizer.lr == 2e-6
    assert optim.optimizer.weight_decay == 0.02
    assert optim.paramwise_cfg.custom_keys['backbone.stan'].lr_mult == 10
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 128
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == cosine.begin and cosine.end == cfg.train_cfg.max_epochs  # warmup ends


@pytest.mark.slow
def test_ssv2_config_trains_two_iterations(synthetic_motion, tmp_path):
    """configs/stan/ssv2.py: the full STAN-B/16 (K=6), 2 iterations on a tiny SSv2-format set."""
    root = tmp_path / 'sthv2'
    (root / 'videos').mkdir(parents=True)
    lines = []
    for i in range(2):
        shutil.copy(osp.join(synthetic_motion, 'videos', 'train', f'{i:05d}.mp4'),
                    root / 'videos' / f'{i}.mp4')
        lines.append(f'{i}.mp4 {i * 100}')
    (root / 'sthv2_train_list_videos.txt').write_text('\n'.join(lines) + '\n')
    proc = run_tool([
        'tools/train.py', osp.join(ROOT, 'configs', 'stan', 'ssv2.py'), '--no-validate',
        '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        'model.backbone.pretrained=None', f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'optim_wrapper.type=OptimWrapper', 'default_hooks.logger.interval=1'], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Epoch(train) [1][2/2]' in log
    assert os.path.isfile(tmp_path / 'work' / 'epoch_1.pth')


@pytest.mark.parametrize('name', RECOGNITION)
def test_every_split_names_its_annotation_file(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'stan', f'{name}.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.ann_file.endswith('.txt') and dataset.data_root.startswith('data/'), loader
