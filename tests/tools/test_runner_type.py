"""tools/train.py and tools/test.py build the runner the config names (``runner_type``, as
mmaction2's / mmpretrain's tools do), the plain mmengine Runner by default; an FSDP config
needs ``runner_type`` and a distributed launch, and gets mmstan's FSDP fixes."""
import argparse
import os.path as osp

import pytest
from mmengine.runner import FlexibleRunner, Runner

from conftest import ROOT, load_script
from mmstan.errors import UserError

DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
FSDP_BASE = osp.join(ROOT, 'configs', '_base_', 'strategies', 'fsdp.py')


def config(tmp_path, name: str, *bases: str, **keys) -> str:
    path = tmp_path / f'{name}.py'
    lines = [f'_base_ = {list(bases)!r}'] + [f'{k} = {v!r}' for k, v in keys.items()]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


@pytest.fixture
def built(monkeypatch):
    """Which runner class each tool built (``from_cfg`` recorded, nothing run)."""
    calls = []

    class Built:
        def __init__(self, kind):
            self.kind = kind

        def train(self):
            calls.append((self.kind, 'train'))

        def test(self):
            calls.append((self.kind, 'test'))

    for cls in (Runner, FlexibleRunner):
        monkeypatch.setattr(cls, 'from_cfg', classmethod(lambda c, cfg: Built(c.__name__)))
    return calls


def test_tools_build_the_runner_the_config_names(built, tmp_path):
    flexible = config(tmp_path, 'flexible', DEMO, runner_type='FlexibleRunner')
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    work = ['--work-dir', str(tmp_path / 'work')]
    train, test = load_script('tools/train.py'), load_script('tools/test.py')
    train.main([DEMO, *work])
    train.main([flexible, *work])
    test.main([DEMO, str(ckpt), *work])
    test.main([flexible, str(ckpt), *work])
    assert built == [('Runner', 'train'), ('FlexibleRunner', 'train'),
                     ('Runner', 'test'), ('FlexibleRunner', 'test')]


def test_fsdp_config(tmp_path, monkeypatch):
    """The FSDP base: FlexibleRunner, FSDPStrategy, mmstan's registered wrap policy."""
    from mmengine.registry import FUNCTIONS

    from mmstan.engine import mmstan_wrap_policy
    from mmstan.utils.cli import load_config, uses_fsdp

    cfg = load_config(config(tmp_path, 'fsdp', DEMO, FSDP_BASE))
    assert cfg.runner_type == 'FlexibleRunner' and uses_fsdp(cfg)
    assert not uses_fsdp(load_config(DEMO))
    wrapper = cfg.strategy.model_wrapper
    assert wrapper.use_orig_params is True
    with FUNCTIONS.switch_scope_and_registry(None):  # as MMFullyShardedDataParallel looks it up
        assert FUNCTIONS.get(wrapper.auto_wrap_policy.type) is mmstan_wrap_policy


def args_for(path: str, launcher: str) -> argparse.Namespace:
    return argparse.Namespace(config=path, cfg_options=None, launcher=launcher, work_dir=None,
                              local_rank=0)


def test_fsdp_needs_runner_type_and_a_distributed_launch(tmp_path, monkeypatch):
    from mmstan import compat
    from mmstan.utils.cli import build_runner, runner_config

    installed = []
    monkeypatch.setattr(compat, 'fsdp', lambda: installed.append('fsdp'))
    monkeypatch.setattr(compat, 'cpu_distributed', lambda: installed.append('cpu_distributed'))
    fsdp = config(tmp_path, 'fsdp', DEMO, FSDP_BASE)
    cfg = runner_config(args_for(fsdp, 'none'))  # its work dir is known, no fix installed
    assert installed == [] and cfg.work_dir
    with pytest.raises(UserError, match=r'fsdp\.py: FSDPStrategy .* tools/dist_train\.sh'):
        build_runner(cfg)
    no_runner_type = config(tmp_path, 'no_runner_type', DEMO,
                            strategy=dict(type='FSDPStrategy'))
    with pytest.raises(UserError, match="no_runner_type.py: .*runner_type = 'FlexibleRunner'"):
        runner_config(args_for(no_runner_type, 'pytorch'))
    assert installed == ['cpu_distributed']
    runner_config(args_for(DEMO, 'pytorch'))
    assert installed == ['cpu_distributed'] * 2  # no FSDP fixes without FSDP
    runner_config(args_for(fsdp, 'pytorch'))
    assert installed == ['cpu_distributed'] * 3 + ['fsdp']


def test_flexible_runner_refuses_a_train_set_without_length(tmp_path):
    """FlexibleRunner.train() calls len(train_dataloader): an IterableDataset is refused with
    one line before training; mmstan's (map-style) datasets pass."""
    from mmengine.config import Config
    from torch.utils.data import DataLoader, IterableDataset

    from mmstan.utils.cli import require_sized_train_set

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(TypeError, match='len'):  # what FlexibleRunner.train() would meet
        len(DataLoader(Stream(), batch_size=1))
    with pytest.raises(UserError, match=r'x\.py: train_dataloader\.dataset Stream is an IterableDataset'):
        require_sized_train_set(Config(dict(train_dataloader=dict(dataset=dict(type=Stream)))), 'x.py')
    for kind in ('VideoCaptionDataset', 'ShardedVideoCaptionDataset', 'VideoDataset'):
        require_sized_train_set(Config(dict(train_dataloader=dict(dataset=dict(type=kind)))), 'x.py')
    require_sized_train_set(Config(dict(train_dataloader=None)), 'x.py')


def test_fsdp_mixed_precision_gets_the_sharded_loss_scaler(built, tmp_path):
    """Under FSDP, mmstan's MixedPrecisionOptimWrapper (fp16) scales with torch's
    ShardedGradScaler, as FSDPStrategy arranges for mmengine's AmpOptimWrapper."""
    from mmengine.config import Config
    from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler

    from mmstan.engine.amp import _grad_scaler
    from mmstan.utils.cli import build_runner

    for strategy, expected in ((dict(type='FSDPStrategy'), True), (None, None)):
        cfg = Config(dict(runner_type='FlexibleRunner', strategy=strategy, launcher='pytorch',
                          optim_wrapper=dict(type='MixedPrecisionOptimWrapper', dtype='fp16')))
        build_runner(cfg)
        assert cfg.optim_wrapper.get('use_fsdp') is expected
    assert isinstance(_grad_scaler('cpu', 'dynamic', use_fsdp=True), ShardedGradScaler)
