"""One bf16 training step of every model family, under CPU bf16 autocast, through
mmengine's own training path (``model.train_step`` with an ``AmpOptimWrapper``).

The wrapper is :class:`mmstan.engine.MixedPrecisionOptimWrapper` with ``dtype='bf16'``:
mmengine's ``AmpOptimWrapper`` (a subclass: its autocast context, backward and step)
that also builds without a GPU (mmengine's asserts one). Each step must give a finite
float32 loss, float32 logits / scores where mmstan computes them in float32 (the
recognition heads' logits, every similarity head's scores, see
``mmstan/models/precision.py``), finite gradients everywhere, and nonzero gradients in
the STAN branch. Models are the configs' own, shrunk to a tiny CLIP as in
tests/test_configs.py; the similarity heads come from the demo and baseline configs (or,
for WTI, from whichever class the registry holds).
"""
import copy
import inspect
import os.path as osp

import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config, ConfigDict
from test_configs import TINY_ARCH, _shrink

from conftest import ROOT, load_script
from mmstan.engine import MixedPrecisionOptimWrapper
from mmstan.models.retrievers import video_text

CONFIGS = osp.join(ROOT, 'configs')
FRAMES, SIZE, BATCH = 4, 32, 3


def config(path: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, path))


def build(model_cfg: dict):
    model_cfg = copy.deepcopy(model_cfg)
    _shrink(model_cfg, shared_clip=False)
    torch.manual_seed(0)
    return MODELS.build(ConfigDict(model_cfg))


def bf16_wrapper(model) -> MixedPrecisionOptimWrapper:
    # plain SGD, no weight decay: a parameter moves only if its gradient is nonzero
    return MixedPrecisionOptimWrapper(dtype='bf16',
                                      optimizer=torch.optim.SGD(model.parameters(), lr=1e-3))


def capture_output(module, outputs: list):
    return module.register_forward_hook(lambda mod, args, out: outputs.append(out))


def train_step(model, data) -> dict:
    """One ``model.train_step`` under bf16 autocast; returns the log vars and, per
    parameter that got a gradient, ``(finite, nonzero)``."""
    wrapper = bf16_wrapper(model)
    assert wrapper.cast_dtype == torch.bfloat16 and not wrapper.loss_scaler.is_enabled()
    grads = {}
    handles = [p.register_post_accumulate_grad_hook(
        lambda p, name=name: grads.__setitem__(name, (bool(p.grad.isfinite().all()),
                                                      bool(p.grad.abs().sum() > 0))))
        for name, p in model.named_parameters() if p.requires_grad]
    # autocast is on: the STAN branch's linear layers compute in bf16 (its residual stream,
    # like CLIP's, stays float32: bf16 branch outputs are added to float32 tokens)
    towers = []
    linear = model.backbone.stan.layers[0].temporal.qkv
    handles.append(capture_output(linear, towers))
    model.train()
    try:
        log_vars = model.train_step(data, wrapper)
    finally:
        for handle in handles:
            handle.remove()
    assert towers and all(x.dtype == torch.bfloat16 for x in towers), [x.dtype for x in towers]
    return dict(log_vars=log_vars, grads=grads)


def check_step(result: dict, stan_prefix: str = 'backbone.stan.') -> None:
    loss = result['log_vars']['loss']
    assert loss.dtype == torch.float32 and loss.isfinite(), loss
    grads = result['grads']
    assert grads and all(finite for finite, _ in grads.values()), \
        [name for name, (finite, _) in grads.items() if not finite]
    stan = {name: nonzero for name, (_, nonzero) in grads.items() if name.startswith(stan_prefix)}
    assert any(stan.values()), f'no gradient reached {stan_prefix}*: {sorted(stan)}'
    temporal = [nonzero for name, nonzero in stan.items() if '.temporal.' in name]
    assert any(temporal), 'no gradient reached the temporal modules'


def video_batch(frames: int = FRAMES, size: int = SIZE):
    torch.manual_seed(1)
    return [torch.randint(0, 256, (1, 3, frames, size, size), dtype=torch.uint8)
            for _ in range(BATCH)]


# ---- recognizers ------------------------------------------------------------------

RECOGNIZERS = {
    'VideoLinearHead': ('demo/synthetic_motion_stan.py', {}),
    'TextClassHead-mug': ('mugstan/k400.py', dict(scoring='mug')),
    'TextClassHead-global': ('mugstan/k400.py', dict(scoring='global')),
}


@pytest.mark.parametrize('name', list(RECOGNIZERS))
def test_recognizer_step_in_bf16(name):
    path, head_options = RECOGNIZERS[name]
    model_cfg = config(path).model.to_dict()
    model_cfg['cls_head'].update(head_options)
    model = build(model_cfg)
    assert type(model.cls_head).__name__ == name.split('-')[0]
    frames = model_cfg['backbone'].get('num_frames', FRAMES)
    samples = [ActionDataSample().set_gt_label(i % 3) for i in range(BATCH)]
    logits = []
    handle = capture_output(model.cls_head, logits)
    result = train_step(model, dict(inputs=video_batch(frames), data_samples=samples))
    handle.remove()
    assert logits and all(x.dtype == torch.float32 for x in logits), [x.dtype for x in logits]
    check_step(result)


# ---- retrievers -------------------------------------------------------------------

def _mug_modes():
    from mmstan.models import heads
    return [m for m in getattr(heads, 'MUG_MODES', ('mug',)) if m not in ('mean', 'wti')]


def _wti_head() -> dict:
    """DRL's WTI head under whichever name the registry has (its own class, or the
    former ``MugHead(mode='wti')``)."""
    cls = MODELS.get('WTIHead')
    if cls is None:
        return dict(type='MugHead', mode='wti', embed_dim=TINY_ARCH['embed_dim'])
    head = dict(type='WTIHead')
    if 'embed_dim' in inspect.signature(cls).parameters:
        head['embed_dim'] = TINY_ARCH['embed_dim']
    return head


def retrieval_heads() -> dict:
    demo = config('demo/synthetic_motion_retrieval.py').model.head.to_dict()
    heads = {f'MugHead-{mode}': dict(demo, mode=mode) for mode in _mug_modes()}
    heads['meanP'] = config('baselines/clip4clip_meanp_msrvtt.py').model.head.to_dict()
    heads['WTI'] = _wti_head()
    heads['SeqTransfHead'] = config('baselines/clip4clip_seqtransf_msrvtt.py').model.head.to_dict()
    heads['CLIP2VideoHead'] = config('baselines/clip2video_msrvtt.py').model.head.to_dict()
    return heads


RETRIEVAL_HEADS = retrieval_heads()


@pytest.mark.parametrize('name', list(RETRIEVAL_HEADS))
def test_retriever_step_in_bf16(name, monkeypatch):
    model_cfg = config('demo/synthetic_motion_retrieval.py').model.to_dict()
    model_cfg['head'] = RETRIEVAL_HEADS[name]
    model = build(model_cfg)
    assert type(model.backbone).__name__ == 'CLIPSTAN'
    scores = []
    infonce = video_text.local_infonce

    def recording_infonce(t2v, v2t, logit_scale, offset=0):
        scores.extend((t2v, v2t))
        return infonce(t2v, v2t, logit_scale, offset)

    monkeypatch.setattr(video_text, 'local_infonce', recording_infonce)
    text = torch.zeros(BATCH, 8, dtype=torch.long)
    text[:, 0], text[:, 3] = 49406, 49407
    text[:, 1:3] = torch.tensor([[320, 1929], [518, 1155], [320, 2442]])
    frames = model_cfg['backbone'].get('num_frames', FRAMES)
    data = dict(inputs=dict(imgs=video_batch(frames), text=list(text)),
                data_samples=[ActionDataSample() for _ in range(BATCH)])
    result = train_step(model, data)
    assert scores and all(s.dtype == torch.float32 for s in scores), [s.dtype for s in scores]
    assert set(result['log_vars']) >= {'loss_t2v', 'loss_v2t'}
    check_step(result)


def test_scores_under_autocast_are_float32_and_close_to_float32_run():
    """The similarity head scores in float32 under bf16 autocast: the same features give
    the same scores with and without autocast."""
    model = build(config('demo/synthetic_motion_retrieval.py').model.to_dict()).eval()
    torch.manual_seed(2)
    tokens, mask = torch.randn(4, 6, 64), torch.ones(4, 6, dtype=torch.bool)
    pooled, frames = torch.randn(4, 64), torch.randn(5, 8, 64)
    text = (pooled.bfloat16(), tokens.bfloat16(), mask)
    reference = model.score(text, frames.bfloat16())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        scored = model.score(text, frames.bfloat16())
    assert scored.dtype == torch.float32
    torch.testing.assert_close(scored, reference, atol=1e-6, rtol=1e-6)


# ---- AVA detector ------------------------------------------------------------------

def test_ava_detector_step_in_bf16(tmp_path):
    from ava_sample import TINY_DET_ARCH, make_ava_sample

    files = make_ava_sample(str(tmp_path))
    cfg = config('stan/ava.py')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg['backbone'].update(arch=TINY_DET_ARCH, pretrained=None)
    model_cfg['roi_head']['bbox_head']['in_channels'] = TINY_DET_ARCH['vision_cfg']['width']
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset.update(ann_file=files['ann_file'], exclude_file=files['exclude_file'],
                   label_file=files['label_file'], proposal_file=files['proposal_file'],
                   data_prefix=dict(img=files['frames']))
    item = DATASETS.build(dataset)[0]
    result = train_step(model, dict(inputs=[item['inputs']], data_samples=[item['data_samples']]))
    assert 'loss_action_cls' in result['log_vars']
    check_step(result)
    for part in ('backbone.clip.', 'roi_head.bbox_head.'):
        assert any(nonzero for name, (_, nonzero) in result['grads'].items() if name.startswith(part)), part


# ---- the switch ---------------------------------------------------------------------

def test_wrapper_rule_on_cpu():
    from mmstan.engine.amp import amp_optim_wrapper, resolve_amp_dtype
    from mmstan.errors import UserError

    assert resolve_amp_dtype('auto', 'cpu') == 'bfloat16'
    assert resolve_amp_dtype('bf16', 'cpu') == 'bfloat16'
    with pytest.raises(UserError, match='fp16 mixed precision needs a GPU'):
        resolve_amp_dtype('fp16', 'cpu')
    wrapper = MixedPrecisionOptimWrapper(optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))],
                                                                   lr=0.1))
    assert wrapper.cast_dtype == torch.bfloat16 and not wrapper.loss_scaler.is_enabled()
    # a checkpoint of an fp16 run (scaler state) resumes in bf16 (no scaler) and back
    state = wrapper.state_dict()
    wrapper.load_state_dict(dict(state, loss_scaler=dict(scale=1024.0, growth_factor=2.0,
                                                         backoff_factor=0.5, growth_interval=2000,
                                                         _growth_tracker=0)))
    assert amp_optim_wrapper(dict(type='OptimWrapper', optimizer=dict(type='SGD')), 'fp16') == dict(
        type='MixedPrecisionOptimWrapper', optimizer=dict(type='SGD'), dtype='float16')
    assert amp_optim_wrapper(dict(type='AmpOptimWrapper', loss_scale=512.0))['dtype'] == 'auto'


@pytest.mark.parametrize('argv,dtype', [(['--amp'], 'auto'), (['--amp-dtype', 'fp16'], 'float16'),
                                        (['--amp', '--amp-dtype', 'bf16'], 'bfloat16')])
def test_train_amp_flags(argv, dtype, tmp_path):
    train = load_script('tools/train.py')
    cfg = train.build_cfg(train.parse_args([osp.join(CONFIGS, 'stan', 'msrvtt.py'), '--work-dir',
                                            str(tmp_path), *argv]))
    assert cfg.optim_wrapper.type == 'MixedPrecisionOptimWrapper'
    assert cfg.optim_wrapper.dtype == dtype
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'


def test_recipes_use_the_rule():
    for path in ('stan/k400.py', 'stan/msrvtt.py', 'mugstan/msrvtt.py', 'mugstan/k400.py'):
        wrapper = config(path).optim_wrapper
        assert wrapper.type == 'MixedPrecisionOptimWrapper' and wrapper.get('dtype', 'auto') == 'auto', path
