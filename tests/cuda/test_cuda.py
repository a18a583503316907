"""CUDA checks (marker ``cuda``): skipped without a CUDA device, run by
``tools/gpu_check.sh`` (``pytest -m cuda tests/cuda``) on a GPU machine.

- CLIPSTAN forward and backward on CUDA equal the CPU's, in fp32 (TF32 off), within 1e-4;
- Mug's gallery scoring on CUDA equals the CPU's;
- the AVA detector's loss and predict on CUDA (one check per RoI extractor the AVA
  configs use);
- a bf16 (or, without native bf16, fp16) retrieval training step with a finite loss;
- ``tools/dist_train.sh`` with NCCL, 1 process, 2 iterations of the tiny demo config.
"""
import contextlib
import copy
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config, ConfigDict

from conftest import ROOT, TINY_ARCH, free_port

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='needs a CUDA device (torch.cuda.is_available() is False); '
                       'tools/gpu_check.sh runs these on a GPU machine'),
]

CONFIGS = osp.join(ROOT, 'configs')
#: Where the checks run (the CPU runs them only when a developer changes this to check
#: the tests themselves on a machine without CUDA).
DEVICE = 'cuda'
#: The tiny CLIP with 4 vision blocks (CLIPSTAN K=4 as the recipes).
ARCH4 = dict(TINY_ARCH, vision_cfg=dict(TINY_ARCH['vision_cfg'], layers=4))


@contextlib.contextmanager
def exact_fp32():
    """fp32 matmuls and convolutions without TF32 (else CUDA differs from the CPU ~1e-3)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_clipstan_forward_backward_cuda_equals_cpu():
    from mmstan.models.backbones import CLIPSTAN

    torch.manual_seed(0)
    cpu = CLIPSTAN(arch=ARCH4, input_resolution=32, num_frames=8, num_layers=4,
                   drop_path_rate=0.0, temporal_pos_std=1.0).train()
    gpu = copy.deepcopy(cpu).to(DEVICE)
    video = torch.randn(2, 3, 8, 32, 32)
    weights = torch.randn(2, 8, cpu.embed_dim)
    with exact_fp32():
        outputs = {}
        for name, model in (('cpu', cpu), ('cuda', gpu)):
            device = next(model.parameters()).device
            out = model(video.to(device))
            (out * weights.to(device)).sum().backward()
            outputs[name] = out
    torch.testing.assert_close(outputs['cuda'].cpu(), outputs['cpu'], atol=1e-4, rtol=1e-4)
    grads = dict(gpu.named_parameters())
    checked = 0
    for name, param in cpu.named_parameters():
        if param.grad is None:
            assert grads[name].grad is None, name
            continue
        torch.testing.assert_close(grads[name].grad.cpu(), param.grad, atol=1e-4, rtol=1e-4,
                                   msg=lambda m, name=name: f'{name}: {m}')
        checked += 1
    assert checked > 0 and any(n.startswith('stan.') and p.grad is not None
                               for n, p in cpu.named_parameters())


def test_mug_gallery_cuda_equals_cpu():
    from mmstan.models.heads import MugHead

    torch.manual_seed(0)
    tokens, frames = torch.randn(37, 12, 64), torch.randn(53, 8, 64)
    mask = torch.arange(12)[None] < torch.randint(2, 13, (37, 1))
    pooled = torch.randn(37, 64)
    head = MugHead('mug', block_elements=4096)  # many blocks: the blocking runs too
    with exact_fp32():
        cpu = head.gallery(tokens, mask, pooled, frames)
        gpu = head.to(DEVICE).gallery(tokens.to(DEVICE), mask.to(DEVICE), pooled.to(DEVICE),
                                      frames.to(DEVICE))
    assert gpu.dtype == torch.float32 and gpu.shape == (37, 53)
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=1e-5)


def _ava_configs():
    """One AVA config per RoI extractor type the AVA configs use."""
    chosen = {}
    for path in sorted(glob.glob(osp.join(CONFIGS, 'stan', 'ava*.py'))):
        extractor = Config.fromfile(path).model.roi_head.bbox_roi_extractor
        chosen.setdefault(f"{extractor['type']}/{extractor.get('roi_layer_type')}", path)
    return chosen


AVA_CONFIGS = _ava_configs()


@pytest.mark.parametrize('extractor', list(AVA_CONFIGS))
def test_ava_detector_loss_and_predict_on_cuda(extractor, tmp_path):
    from ava_sample import TINY_DET_ARCH, make_ava_sample

    files = make_ava_sample(str(tmp_path))
    cfg = Config.fromfile(AVA_CONFIGS[extractor])
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg['backbone'].update(arch=TINY_DET_ARCH, pretrained=None)
    model_cfg['roi_head']['bbox_head']['in_channels'] = TINY_DET_ARCH['vision_cfg']['width']
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).to(DEVICE)

    def dataset(split):
        ds = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
        ds.update(ann_file=files['ann_file'], exclude_file=files['exclude_file'],
                  label_file=files['label_file'], proposal_file=files['proposal_file'],
                  data_prefix=dict(img=files['frames']))
        return DATASETS.build(ds)

    item = dataset('train')[0]
    batch = model.data_preprocessor(dict(inputs=[item['inputs']], data_samples=[item['data_samples']]),
                                    training=True)
    assert batch['inputs'].device.type == torch.device(DEVICE).type
    losses = model(**batch, mode='loss')
    assert losses['loss_action_cls'].isfinite()
    losses['loss_action_cls'].backward()
    for part in ('backbone.stan', 'backbone.clip', 'roi_head.bbox_head'):
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for n, p in model.named_parameters() if n.startswith(part)), part
    model.eval()
    item = dataset('val')[0]
    batch = model.data_preprocessor(dict(inputs=[item['inputs']], data_samples=[item['data_samples']]))
    with torch.no_grad():
        [pred] = model(**batch, mode='predict')
    scores = pred.pred_instances.scores
    assert scores.shape == (len(item['data_samples'].proposals.bboxes), 81)
    assert ((scores >= 0) & (scores <= 1)).all() and scores.isfinite().all()


def test_bf16_retrieval_step_on_cuda():
    from mmstan.engine import MixedPrecisionOptimWrapper
    from mmstan.engine.amp import cuda_has_bf16

    cfg = Config.fromfile(osp.join(CONFIGS, 'demo', 'synthetic_motion_retrieval.py'))
    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(cfg.model.to_dict())).to(DEVICE).train()
    wrapper = MixedPrecisionOptimWrapper(optimizer=torch.optim.AdamW(model.parameters(), lr=1e-4))
    bf16 = cuda_has_bf16()
    assert wrapper.cast_dtype == (torch.bfloat16 if bf16 else torch.float16)
    assert wrapper.loss_scaler.is_enabled() == (not bf16)
    text = torch.zeros(4, 8, dtype=torch.long)
    text[:, 0], text[:, 3] = 49406, 49407
    text[:, 1:3] = torch.tensor([[320, 1929], [518, 1155], [320, 2442], [518, 3415]])
    data = dict(inputs=dict(imgs=[torch.randint(0, 256, (1, 3, 8, 32, 32), dtype=torch.uint8)
                                  for _ in range(4)], text=list(text)),
                data_samples=[ActionDataSample() for _ in range(4)])
    before = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith('backbone.stan')}
    for _ in range(2):
        log_vars = model.train_step(data, wrapper)
        assert log_vars['loss'].isfinite() and log_vars['loss'].dtype == torch.float32
    moved = [n for n, p in model.named_parameters() if n in before and not torch.equal(p, before[n])]
    assert moved, 'no STAN parameter was updated'


def test_dist_train_nccl_one_process(synthetic_motion, tmp_path):
    """tools/dist_train.sh, 1 process on the GPU, NCCL: 2 iterations of the tiny demo."""
    work = str(tmp_path / 'work')
    opts = ['train_cfg.max_epochs=1', 'param_scheduler=[]', 'default_hooks.logger.interval=1',
            f'train_dataloader.dataset.data_root={synthetic_motion}', 'train_dataloader.batch_size=8',
            'train_dataloader.dataset.indices=16', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False']
    env = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
               PORT=str(free_port()), NCCL_DEBUG='INFO', NCCL_DEBUG_SUBSYS='INIT')
    demo = osp.join(CONFIGS, 'demo', 'synthetic_motion_stan.py')
    proc = subprocess.run(['bash', 'tools/dist_train.sh', demo, '1', '--work-dir', work, '--no-validate',
                           '--cfg-options', *opts],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    log = open(glob.glob(osp.join(work, '*', '*.log'))[0]).read()
    assert 'Distributed training: True' in log
    assert "dist_cfg: {'backend': 'nccl'}" in log, log[:3000]
    assert 'NCCL INFO' in output, 'NCCL_DEBUG=INFO printed nothing: NCCL did not start'
    assert 'Epoch(train) [1][2/2]' in log, log[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
