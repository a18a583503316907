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


def test_numpy2_nan_in_ava_evaluation():
    from mmaction.evaluation.functional.ava_evaluation import metrics

    assert not hasattr(np, 'NAN') or np.NAN is np.nan
    assert math.isnan(metrics.compute_average_precision(None, None))
    # scoped: numpy itself is untouched
    if not hasattr(np, 'NAN'):
        assert compat.numpy2_ava_nan() is True


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


def test_getattr_is_not_allow_listed(tmp_path):
    path = tmp_path / 'fn.pth'
    torch.save({'f': torch.Tensor.add}, path)
    with pytest.raises(Exception, match='getattr'):
        torch.load(path, weights_only=True)


def test_weights_only_still_rejects_arbitrary_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned',))

    path = tmp_path / 'evil.pth'
    torch.save({'x': Evil()}, path)
    with pytest.raises(Exception, match='(?i)weights_only|unsupported global'):
        torch.load(path, weights_only=True)


def _ddp_worker(rank, world_size, port, results):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    from mmengine.dist import init_dist
    from mmengine.model import MMDistributedDataParallel

    import mmstan  # noqa: F401

    init_dist('pytorch', backend='nccl')  # mmaction2's default runtime asks for nccl
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
    port = 29600 + os.getpid() % 1000
    mp.spawn(_ddp_worker, args=(2, port, results), nprocs=2, join=True)
    # DDP averaged the two ranks' gradients: inputs 1 and 2 -> grad 1.5 on both weights
    for rank in range(2):
        assert torch.allclose(results[rank], torch.full((1, 2), 1.5))
