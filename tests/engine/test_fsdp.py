"""FSDP (mmengine's FlexibleRunner + FSDPStrategy, configs/_base_/strategies/fsdp.py) on the
demo retriever, 2 CPU processes on gloo, fp32, against DDP (mmengine's Runner): one spawned
job (tests/engine/fsdp_job.py) runs every scenario, the tests compare what it saved.

The demo model trains with per-group learning rates (``backbone.stan`` at 10x), its token
embedding and first text layer frozen, gradient checkpointing on, and a gradient clip norm
below every step's gradient norm."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, free_port

JOB = osp.join(ROOT, 'tests', 'engine', 'fsdp_job.py')
DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
#: What the job's configs freeze: the token embedding and the first text layer (text_frozen_layers=1).
FROZEN = ('text_encoder.text.token_embedding.', 'text_encoder.text.transformer.resblocks.0.')


def state_dict(path: str) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


@pytest.fixture(scope='module')
def job(tmp_path_factory):
    """Runs the 2-process job once: ``(out dir, results.json, initial state dict)``."""
    from fsdp_job import SEQ_HEAD
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    from mmstan.datasets.synthetic import write_synthetic_retrieval

    out = tmp_path_factory.mktemp('fsdp')
    data, init = str(out / 'data'), str(out / 'init.pth')
    write_synthetic_retrieval(data, num_train=12, num_test=6, captions=2)
    cfg = Config.fromfile(DEMO)
    cfg.model.text_frozen_layers = 1
    init_default_scope('mmaction')
    for path, head in ((init, None), (init.replace('.pth', '_seq.pth'), SEQ_HEAD)):
        if head is not None:
            cfg.model.head = head
        torch.manual_seed(0)
        torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(), meta={}), path)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    port = str(free_port())
    proc = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                           '--master_port', port, JOB, str(out), data, init],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    with open(out / 'results.json') as f:
        return str(out), json.load(f), state_dict(init)


def assert_params_close(a: dict, b: dict, atol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    worst = max((float((a[k].float() - b[k].float()).abs().max()), k) for k in a)
    assert worst[0] <= atol, worst


@pytest.mark.slow
def test_fsdp_equals_ddp_with_group_lrs_and_clipping(job):
    """3 steps under FSDP == 3 steps under DDP (parameters within 1e-5), every step clipped
    by the norm of the whole model (not of one rank's shards), per-group lrs kept."""
    from fsdp_job import MAX_NORM

    out, results, init = job
    ddp, fsdp = results['ddp3'], results['fsdp3']
    assert (ddp['runner'], ddp['model']) == ('Runner', 'MMDistributedDataParallel')
    assert (fsdp['runner'], fsdp['model']) == ('FlexibleRunner', 'MMFullyShardedDataParallel')
    assert ddp['iter'] == fsdp['iter'] == 3
    assert min(ddp['grad_norm']) > MAX_NORM  # the clip norm clips every step
    torch.testing.assert_close(torch.tensor(fsdp['grad_norm']), torch.tensor(ddp['grad_norm']),
                               rtol=1e-5, atol=0)
    lrs = sorted(set(round(lr, 12) for lr in ddp['lr']['lr']))
    assert len(lrs) == 2 and lrs[1] == pytest.approx(10 * lrs[0])  # backbone.stan: lr_mult=10
    assert sorted(fsdp['lr']['lr']) == pytest.approx(sorted(ddp['lr']['lr']))
    assert {wd for _, wd, _ in ddp['groups']} == {0.0, 0.02}  # norm_decay_mult / bias_decay_mult
    # the same groups; under FSDP each rank's parameters are its shards (numels sum to DDP's)
    torch.testing.assert_close(torch.tensor([g[:2] for g in fsdp['groups']]),
                               torch.tensor([g[:2] for g in ddp['groups']]))
    ddp_params = state_dict(osp.join(out, 'ddp3', 'iter_3.pth'))
    fsdp_params = state_dict(osp.join(out, 'fsdp3', 'iter_3.pth'))  # the plain model's keys
    assert max(float((ddp_params[k] - init[k]).abs().max()) for k in init) > 1e-3  # trained
    assert_params_close(fsdp_params, ddp_params)


@pytest.mark.slow
def test_fsdp_resume_equals_straight_run(job):
    """FSDP: 2 steps + save + --resume + 2 steps == 4 straight steps (optimizer moments and
    lr schedule restored, not only the weights)."""
    out, results, _ = job
    assert results['fsdp2']['iter'] == 2 and results['fsdp2+2']['iter'] == 4
    assert_params_close(state_dict(osp.join(out, 'fsdp2+2', 'iter_4.pth')),
                        state_dict(osp.join(out, 'fsdp4', 'iter_4.pth')))
    assert results['fsdp2+2']['lr'] == results['fsdp4']['lr']
    assert results['fsdp2+2']['grad_norm'][-2:] == pytest.approx(results['fsdp4']['grad_norm'][-2:],
                                                                 rel=1e-5)


@pytest.mark.slow
def test_frozen_text_layers_stay_unchanged_under_fsdp(job):
    out, _, init = job
    params = state_dict(osp.join(out, 'fsdp4', 'iter_4.pth'))
    frozen = [k for k in init if k.startswith(FROZEN)]
    assert len(frozen) == 13  # token embedding + the 12 tensors of one CLIP block
    assert all(torch.equal(params[k], init[k]) for k in frozen)
    later = [k for k in init if k.startswith('text_encoder.text.transformer.resblocks.1.')]
    assert any(not torch.equal(params[k], init[k]) for k in later)  # the next layer trains


@pytest.mark.slow
@pytest.mark.parametrize('ddp, fsdp', [('ddp3', 'fsdp3'), ('ddp1_seq', 'fsdp1_seq')])
def test_fsdp_validation_gives_ddp_metrics(job, ddp, fsdp):
    """The retrieval val loop (videos and captions encoded through FSDP's forward, captions
    scored by the head's ``score`` outside it) gives the metrics of the same model under
    DDP: for the Mug head, and for SeqTransfHead, whose own parameters (a copied text
    layer, an FSDP unit of its own) score the gallery."""
    out, results, _ = job
    assert len(results[ddp]['metrics']) == 10
    assert results[fsdp]['metrics'] == pytest.approx(results[ddp]['metrics'], abs=1e-6)
    last = f'iter_{results[ddp]["iter"]}.pth'
    assert_params_close(state_dict(osp.join(out, fsdp, last)), state_dict(osp.join(out, ddp, last)))


@pytest.mark.slow
def test_fsdp_test_of_a_ddp_checkpoint_gives_its_metrics(job):
    """tools/test.py's path under FSDP (FlexibleRunner, test loop): the DDP run's checkpoint
    gives the metrics DDP's validation gave it."""
    _, results, _ = job
    assert results['fsdp_test']['runner'] == 'FlexibleRunner'
    assert results['fsdp_test']['metrics'] == pytest.approx(results['ddp3']['metrics'], abs=1e-6)
