"""Each compatibility fix in mmstan.compat, tested on the pinned stack."""
import math
import os

import numpy as np
import pytest
import torch

from mmstan import compat


def test_mmaction_models_import_with_drn_stub():
    import mmaction.models  # noqa: F401  (fails on the 1.2.0 wheel without the stub)
    from mmaction.models.localizers import DRN

    with pytest.raises(ImportError, match='mmaction2 issue #2714'):
        DRN()
    assert compat.stub_missing_drn() is False  # idempotent: already registered


def test_stack_imports():
    import mmcv.ops  # noqa: F401
    import mmdet.models  # noqa: F401
    from mmaction.models.roi_heads import AVARoIHead
    from mmaction.registry import MODELS

    # mmaction2's AVA heads are registered into mmdet's registry once mmaction.models loads
    from mmdet.registry import MODELS as MMDET_MODELS

    from mmstan.models.backbones import CLIPMeanPool
    assert MMDET_MODELS.get('AVARoIHead') is AVARoIHead
    assert MODELS.get('CLIPMeanPool') is CLIPMeanPool


def test_roi_align_runs_on_cpu():
    from mmcv.ops import RoIAlign

    feats = torch.arange(2 * 4 * 8 * 8, dtype=torch.float32).reshape(2, 4, 8, 8)
    rois = torch.tensor([[0, 0, 0, 7, 7], [1, 2, 2, 5, 5]], dtype=torch.float32)
    out = RoIAlign(output_size=2, spatial_scale=1.0, sampling_ratio=2)(feats, rois)
    assert out.shape == (2, 4, 2, 2)
    # the box covering the whole first map averages to about the map's mean per quadrant
    assert torch.isfinite(out).all()
    assert float(out[0].mean()) == pytest.approx(float(feats[0].mean()), rel=0.05)


def test_numpy2_nan_in_ava_evaluation_is_opt_in(monkeypatch):
    from mmaction.evaluation.functional.ava_evaluation import metrics

    assert metrics.np is np  # importing mmstan left mmaction2's module alone
    monkeypatch.setattr(metrics, 'np', np)  # (undone after the test)
    assert compat.numpy2_ava_nan() is not hasattr(np, 'NAN')
    assert math.isnan(metrics.compute_average_precision(None, None))
    assert not hasattr(np, 'NAN') or np.NAN is np.nan  # scoped: numpy itself is untouched


def _runner_checkpoint(tmp_path):
    """A checkpoint written by mmengine 0.10.7's Runner (meta with message hub)."""
    from mmengine.logging import HistoryBuffer, MessageHub

    hub = MessageHub.get_instance('compat-test')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_scalar('train/iter', np.int64(3))
    ckpt = dict(meta=dict(epoch=1, iter=np.int64(3), message_hub=hub.state_dict(),
                          seed=np.int64(0)),
                state_dict={'w': torch.ones(2)},
                message_hub=hub.state_dict())
    assert isinstance(hub.log_scalars['train/loss'], HistoryBuffer)
    path = tmp_path / 'epoch_1.pth'
    torch.save(ckpt, path)
    return path


def test_weights_only_load_of_mmengine_checkpoint(tmp_path):
    path = _runner_checkpoint(tmp_path)
    assert compat.safe_checkpoint_globals() is True
    loaded = torch.load(path, weights_only=True)  # what torch >= 2.6 does by default
    assert loaded['meta']['epoch'] == 1
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 0.5
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ


def pickled_globals(path) -> set:
    """Every global (``module name``) the pickle inside a torch checkpoint refers to."""
    import pickletools
    import zipfile

    with zipfile.ZipFile(path) as archive:
        [name] = [n for n in archive.namelist() if n.endswith('/data.pkl')]
        ops = pickletools.genops(archive.read(name))
        return {arg for op, arg, _ in ops if op.name == 'GLOBAL'}


def test_weights_only_load_restores_history_buffer_statistics(tmp_path):
    """mmengine pickles HistoryBuffer's statistics methods as getattr(HistoryBuffer, name):
    exactly those load (mmstan's stand-in for getattr), and keep working."""
    from mmengine.logging import HistoryBuffer

    path = _runner_checkpoint(tmp_path)
    assert '__builtin__ getattr' in pickled_globals(path)
    buffer = torch.load(path, weights_only=True)['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.statistics('current') == 0.5
    getstate = HistoryBuffer.__getstate__  # mmengine's own: checkpoints are written as it writes them
    assert (getstate.__module__, getstate.__qualname__) == ('mmengine.logging.history_buffer',
                                                            'HistoryBuffer.__getstate__')


def test_getattr_is_not_allow_listed(tmp_path):
    """getattr loads HistoryBuffer's four statistics and nothing else, not even another
    attribute of an allow-listed class."""
    from mmengine.logging import HistoryBuffer

    assert getattr not in torch.serialization.get_safe_globals()
    for name, value in (('other_method', HistoryBuffer.update), ('tensor', torch.Tensor.add)):
        path = tmp_path / f'{name}.pth'
        torch.save({'f': value}, path)  # pickled as getattr(owner, name)
        with pytest.raises(Exception, match='getattr|TensorBase'):
            torch.load(path, weights_only=True)
    with pytest.raises(Exception, match=r'getattr\(<class .*HistoryBuffer.*update.*not allowed'):
        torch.load(tmp_path / 'other_method.pth', weights_only=True)


def test_weights_only_still_rejects_arbitrary_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned',))

    path = tmp_path / 'evil.pth'
    torch.save({'x': Evil()}, path)
    with pytest.raises(Exception, match='(?i)weights_only|unsupported global'):
        torch.load(path, weights_only=True)


#: A toy mmengine Runner (no mmaction2): ``python -c TOY_RUNNER WORK_DIR EPOCHS [mmstan]``
#: trains to EPOCHS, resuming from the work dir's latest checkpoint if there is one.
TOY_RUNNER = r'''
import sys
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
if sys.argv[3:] == ['mmstan']:
    import mmstan  # noqa: F401
else:
    assert not any(name.startswith('mmstan') for name in sys.modules)

class Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='loss'):
        return dict(loss=((self.linear(inputs).squeeze(1) - labels) ** 2).mean())

data = [dict(inputs=torch.full((2, ), float(i)), labels=torch.tensor(float(i % 3))) for i in range(8)]
runner = Runner(model=Toy(), work_dir=sys.argv[1], experiment_name=f'toy{sys.argv[2]}',
                train_dataloader=dict(dataset=data, batch_size=4, collate_fn=dict(type='default_collate'),
                                      sampler=dict(type='DefaultSampler', shuffle=False)),
                optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
                train_cfg=dict(by_epoch=True, max_epochs=int(sys.argv[2])),
                default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
                resume=True, randomness=dict(seed=0))
runner.train()
loss = runner.message_hub.get_scalar('train/loss')
print('RESULT', runner.epoch, runner.iter, len(loss.data[0]), loss.statistics('mean'))
'''


def toy_runner(work_dir, epochs: int, with_mmstan: bool, **env) -> list:
    """Run the toy Runner in a fresh interpreter; returns ``[epoch, iter, n_losses, mean]``."""
    import subprocess
    import sys

    from conftest import ROOT

    args = [sys.executable, '-c', TOY_RUNNER, str(work_dir), str(epochs)]
    args += ['mmstan'] if with_mmstan else []
    full_env = {k: v for k, v in os.environ.items() if k != 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'}
    proc = subprocess.run(args, cwd=ROOT, env=dict(full_env, PYTHONPATH=ROOT, **env),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [line] = [line for line in proc.stdout.splitlines() if line.startswith('RESULT ')]
    return [float(x) for x in line.split()[1:]]


def test_plain_mmengine_checkpoint_resumes_with_mmstan(tmp_path):
    """A checkpoint written without mmstan resumes with mmstan imported, weights-only
    (torch's default), message hub included: the run continues where it stopped."""
    assert toy_runner(tmp_path, 1, with_mmstan=False)[:3] == [1, 2, 2]
    epoch, iteration, losses, _ = toy_runner(tmp_path, 2, with_mmstan=True)
    assert (epoch, iteration, losses) == (2, 4, 4)  # the resumed loss history: 2 + 2 iterations


def test_mmstan_checkpoint_is_plain_mmengine_checkpoint(tmp_path):
    """Importing mmstan does not change what mmengine writes: the same pickled globals
    as without mmstan, and plain mmengine (no mmstan in the process) resumes it, loading
    the way it does on torch < 2.6 (stock mmengine 0.10.7 has no weights-only support)."""
    plain, with_mmstan = tmp_path / 'plain', tmp_path / 'mmstan'
    toy_runner(plain, 1, with_mmstan=False)
    toy_runner(with_mmstan, 1, with_mmstan=True)
    assert pickled_globals(with_mmstan / 'epoch_1.pth') == pickled_globals(plain / 'epoch_1.pth')
    assert '__builtin__ getattr' in pickled_globals(plain / 'epoch_1.pth')  # HistoryBuffer's
    epoch, iteration, losses, _ = toy_runner(with_mmstan, 2, with_mmstan=False,
                                             TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    assert (epoch, iteration, losses) == (2, 4, 4)


def _ddp_worker(rank, world_size, port, results):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    from mmengine.dist import init_dist
    from mmengine.model import MMDistributedDataParallel

    assert compat.cpu_distributed() is True  # what mmstan's tools do for a distributed job
    init_dist('pytorch', backend='nccl')  # mmaction2's default runtime asks for nccl
    assert torch.distributed.get_backend() == 'gloo'
    model = MMDistributedDataParallel(module=torch.nn.Linear(2, 1), device_ids=[rank])
    out = model(torch.ones(1, 2) * (rank + 1)).sum()
    out.backward()
    results[rank] = model.module.weight.grad.clone()
    torch.distributed.destroy_process_group()


@pytest.mark.skipif(torch.cuda.is_available(), reason='tests the CPU-only path')
def test_cpu_distributed_init_and_ddp():
    import torch.multiprocessing as mp

    manager = mp.Manager()
    results = manager.dict()
    from conftest import free_port

    port = free_port()
    mp.spawn(_ddp_worker, args=(2, port, results), nprocs=2, join=True)
    # DDP averaged the two ranks' gradients: inputs 1 and 2 -> grad 1.5 on both weights
    for rank in range(2):
        assert torch.allclose(results[rank], torch.full((1, 2), 1.5))


@pytest.fixture
def dist_init(monkeypatch):
    """mmengine's ``_init_dist_pytorch`` replaced by a recorder (as the original
    cpu_distributed wraps), and everything cpu_distributed patches restored after."""
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers.distributed import MMDistributedDataParallel

    calls = []

    def record(backend, init_backend='torch', **kwargs):
        torch.cuda.set_device(0)  # what mmengine does first; fails on a CPU-only host
        calls.append((backend, init_backend, kwargs))

    monkeypatch.setattr(MMDistributedDataParallel, '__init__', MMDistributedDataParallel.__init__)
    monkeypatch.setattr(dist_utils, '_init_dist_pytorch', record)
    monkeypatch.setattr(torch.cuda, 'set_device', torch.cuda.set_device)
    return dist_utils, calls


def test_cpu_distributed_installs_nothing_off_cpu(dist_init, monkeypatch):
    import mmengine.device
    from mmengine.model.wrappers.distributed import MMDistributedDataParallel

    dist_utils, _ = dist_init
    before = dist_utils._init_dist_pytorch, MMDistributedDataParallel.__init__
    for device in ('cuda', 'npu', 'mlu', 'mps', 'musa'):
        monkeypatch.setattr(mmengine.device, 'get_device', lambda device=device: device)
        assert compat.cpu_distributed() is False
        assert (dist_utils._init_dist_pytorch, MMDistributedDataParallel.__init__) == before


def test_cpu_distributed_passes_init_backend(dist_init, monkeypatch):
    import mmengine.device

    dist_utils, calls = dist_init
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cpu')
    set_device = torch.cuda.set_device
    assert compat.cpu_distributed() is True
    dist_utils._init_dist_pytorch('nccl', init_backend='deepspeed', timeout=5)
    dist_utils._init_dist_pytorch('gloo', init_backend='colossalai')
    assert calls == [('gloo', 'deepspeed', dict(timeout=5)), ('gloo', 'colossalai', {})]
    assert torch.cuda.set_device is set_device  # skipped during the call only


def test_tools_install_cpu_distributed_only_for_a_distributed_job(dist_init, monkeypatch):
    """Importing mmstan patches nothing (tests/test_host_contract.py); mmstan's tools
    install the fix when the job is distributed (and the device is the CPU)."""
    import argparse

    import mmengine.device

    from conftest import ROOT
    from mmstan.utils.cli import runner_config

    dist_utils, _ = dist_init
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cpu')
    monkeypatch.setenv('LOCAL_RANK', '0')
    args = argparse.Namespace(config=os.path.join(ROOT, 'configs', 'demo', 'synthetic_motion_meanpool.py'),
                              cfg_options=None, launcher='none', work_dir=None, local_rank=0)
    runner_config(args)
    assert not getattr(dist_utils._init_dist_pytorch, '_mmstan', False)
    args.launcher = 'pytorch'
    runner_config(args)
    assert dist_utils._init_dist_pytorch._mmstan


@pytest.fixture
def fsdp_strategy(monkeypatch):
    """mmengine's FSDPStrategy, every method the FSDP fixes replace restored after the test."""
    from mmengine._strategy import FSDPStrategy

    for name in ('load_optim_state_dict', 'optim_state_dict', '_wrap_model', 'build_optim_wrapper',
                 '_init_state_dict_cfg'):
        monkeypatch.setattr(FSDPStrategy, name, getattr(FSDPStrategy, name))
    return FSDPStrategy


def test_fsdp_fixes_install_nothing_off_cpu(fsdp_strategy, monkeypatch):
    import mmengine.device

    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cuda')
    before = dict(vars(fsdp_strategy))
    assert compat.fsdp_cpu_device_id() is False and compat.fsdp_full_state_dict_on_cpu() is False
    assert dict(vars(fsdp_strategy)) == before


def test_fsdp_optim_state_dict_to_load_passes_arguments_by_name(fsdp_strategy, monkeypatch):
    """torch's own signature binds mmengine's positional call wrongly (the state dict as
    the model); the fix binds each argument to its name."""
    import functools
    import inspect
    from types import SimpleNamespace

    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    signature = inspect.signature(FSDP.optim_state_dict_to_load)
    bound = []

    @functools.wraps(FSDP.optim_state_dict_to_load)
    def record(*args, **kwargs):
        bound.append(signature.bind(*args, **kwargs).arguments)
        return 'converted'

    monkeypatch.setattr(FSDP, 'optim_state_dict_to_load', staticmethod(record))
    loaded = []
    strategy = SimpleNamespace(model='model', optim_wrapper=SimpleNamespace(
        optimizer='optimizer', load_state_dict=loaded.append))
    saved = {'state': {}, 'param_groups': []}
    fsdp_strategy.load_optim_state_dict(strategy, saved)  # mmengine 0.10.7's call
    assert bound[-1]['model'] is saved  # the defect
    assert compat.fsdp_optim_state_dict_to_load() is True
    fsdp_strategy.load_optim_state_dict(strategy, saved)
    assert bound[-1] == dict(model='model', optim='optimizer', optim_state_dict=saved)
    assert loaded == ['converted', 'converted']


def test_fsdp_cpu_device_id(fsdp_strategy, monkeypatch):
    """mmengine gives FSDP ``device_id=LOCAL_RANK`` (a CUDA device to torch); on the CPU the
    fix wraps with the CPU device, and a config's own ``device_id`` still wins."""
    from types import SimpleNamespace

    import mmengine.device
    from mmengine._strategy import fsdp as fsdp_module

    built = []

    def build(cfg, default_args):
        built.append(dict(default_args, **cfg))  # mmengine's rule: the config's keys win
        return SimpleNamespace(set_state_dict_type=lambda *args: None)

    monkeypatch.setattr(fsdp_module.MODEL_WRAPPERS, 'build', build)
    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cpu')
    monkeypatch.setenv('LOCAL_RANK', '1')

    def wrap(model_wrapper):
        strategy = SimpleNamespace(model_wrapper=model_wrapper, state_dict_type=None,
                                   state_dict_config=None, optim_state_dict_config=None,
                                   activation_checkpointing=None)
        fsdp_strategy._wrap_model(strategy, torch.nn.Linear(2, 2))
        return built[-1]['device_id']

    assert torch.device(wrap(None)).type == 'cuda'  # the defect: LOCAL_RANK is a CUDA index
    assert compat.fsdp_cpu_device_id() is True
    assert wrap(None) == torch.device('cpu')
    assert wrap(dict(type='MMFullyShardedDataParallel', device_id='meta')) == 'meta'


def test_fsdp_clip_grad_norm_clips_with_the_root(fsdp_strategy):
    """The clip goes to the FSDP root's ``clip_grad_norm_`` (whole-model norm, a collective
    every rank calls) with the config's max_norm and norm_type; its norm is logged."""
    from mmengine.optim import OptimWrapper

    linear = torch.nn.Linear(2, 2)
    wrapper = OptimWrapper(torch.optim.SGD(linear.parameters(), lr=0.1),
                           clip_grad=dict(max_norm=0.5, norm_type=3.0))
    calls = []

    class Root:
        def clip_grad_norm_(self, max_norm, norm_type):
            calls.append((max_norm, norm_type))
            return torch.tensor(7.0)

    wrapper._clip_grad = compat._fsdp_clip_grad(wrapper, Root())
    wrapper._clip_grad()  # also on a rank whose shards hold no gradient (none here)
    assert calls == [(0.5, 3.0)]
    assert wrapper.message_hub.get_scalar('train/grad_norm').current() == 7.0
    assert compat.fsdp_clip_grad_norm() is True


def test_fsdp_full_state_dict_gathers_without_offload_on_cpu(fsdp_strategy, monkeypatch):
    import mmengine.device

    monkeypatch.setattr(mmengine.device, 'get_device', lambda: 'cpu')
    strategy = fsdp_strategy.__new__(fsdp_strategy)
    fsdp_strategy._init_state_dict_cfg(strategy, 'full')
    assert strategy.state_dict_config.offload_to_cpu  # mmengine 0.10.7's 'full'
    assert compat.fsdp_full_state_dict_on_cpu() is True
    fsdp_strategy._init_state_dict_cfg(strategy, 'full')
    assert not strategy.state_dict_config.offload_to_cpu
    assert not strategy.optim_state_dict_config.offload_to_cpu
    assert strategy.state_dict_config.rank0_only  # the rest of 'full' unchanged


def test_fsdp_optimizer_checkpoint_keeps_base_param_settings(fsdp_strategy, monkeypatch):
    """FSDP.optim_state_dict drops the wrapper's base_param_settings (mmengine's logged
    base_lr); with the fix it is saved and loaded back, after the by-name fix's load."""
    from types import SimpleNamespace

    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    monkeypatch.setattr(FSDP, 'optim_state_dict',
                        staticmethod(lambda model, optim: {'state': {}, 'param_groups': []}))
    monkeypatch.setattr(FSDP, 'optim_state_dict_to_load', staticmethod(
        lambda model, optim, optim_state_dict, **kwargs: dict(optim_state_dict, converted=True)))
    loaded = []
    settings = {'lr': 0.25}
    strategy = SimpleNamespace(model='model', optim_wrapper=SimpleNamespace(
        optimizer='optimizer', base_param_settings=settings, load_state_dict=loaded.append))
    assert 'base_param_settings' not in fsdp_strategy.optim_state_dict(strategy)  # the defect
    assert compat.fsdp_optim_state_dict_to_load() and compat.fsdp_base_param_settings()
    saved = fsdp_strategy.optim_state_dict(strategy)
    assert saved['base_param_settings'] is settings
    strategy.optim_wrapper.base_param_settings = {'lr': 1.0}
    fsdp_strategy.load_optim_state_dict(strategy, saved)
    assert strategy.optim_wrapper.base_param_settings is settings
    assert loaded == [{'state': {}, 'param_groups': [], 'converted': True}]
    assert compat.fsdp_optim_state_dict_to_load() and compat.fsdp_base_param_settings()  # once
    load = fsdp_strategy.load_optim_state_dict  # installed once each: two wrappers, not four
    assert load._mmstan_original._mmstan_original is not None
    assert not hasattr(load._mmstan_original._mmstan_original, '_mmstan')


def test_import_hides_only_vindlus_timm_warning():
    """With transformers installed, mmaction's models import VindLU, which imports the
    deprecated ``timm.models.layers``: ``import mmstan`` does not print timm's
    FutureWarning (timm itself still does), and leaves no filter for it behind."""
    import subprocess
    import sys

    pytest.importorskip('transformers')
    script = ('import sys, warnings; import mmstan; '
              'print("vindlu" if "mmaction.models.multimodal.vindlu" in sys.modules else "-", '
              'any("timm" in str(f[1]) for f in warnings.filters))')
    mmstan_run = subprocess.run([sys.executable, '-W', 'always::FutureWarning', '-c', script],
                                capture_output=True, text=True, check=True)
    timm_run = subprocess.run([sys.executable, '-W', 'always::FutureWarning', '-c',
                               'import timm.models.layers'], capture_output=True, text=True, check=True)
    assert compat.TIMM_LAYERS_MESSAGE in timm_run.stderr
    assert mmstan_run.stdout.split() == ['vindlu', 'False']
    assert compat.TIMM_LAYERS_MESSAGE not in mmstan_run.stderr, mmstan_run.stderr[-2000:]
