"""The device check's table: training-step speed, peak memory, MFU and the attention
kernels of STAN against CLIP mean pooling, in one run.

    python tools/analysis/gpu_benchmark.py [--json OUT.json] [--batch 16] [--steps 10]
    python tools/analysis/gpu_benchmark.py --cpu-smoke     # the same code, tiny CLIP, CPU, seconds

``tools/gpu_check.sh`` runs it after the CUDA tests. What it measures:

- STAN-B/16 (``configs/stan/k400.py``: CLIPSTAN K=4 + linear head, random weights, no
  download), 8 frames at 224 px, a batch of 16 clips (the recipes' per-GPU batch), and its
  CLIP mean-pooling twin (``CLIPMeanPool``, the same CLIP weights): a training step
  (``model.train_step``: data preprocessor, forward, backward, AdamW step, through
  mmengine's ``OptimWrapper`` for fp32 and :class:`MixedPrecisionOptimWrapper` in bf16
  without loss scaler for bf16), with and without gradient checkpointing: clips/s, ms
  per step, peak allocated memory (weights, gradients, AdamW state, activations).
- STAN's time overhead over mean pooling beside its FLOPs overhead (forward
  multiply-accumulates from ``mmstan.analysis.count_flops``, as ``get_flops.py``).
- STAN-L/14 (the same config with ``ViT-L-14``), 16 frames, batch 1, bf16 with gradient
  checkpointing: peak memory (and speed).
- MFU: model FLOPs (6 x forward MACs per clip: forward + backward ~ 3 forward passes,
  2 FLOPs per MAC; recomputation under checkpointing not counted) per second over the
  device's dense bf16 peak, for bf16 rows, from :data:`BF16_PEAKS`; a device not in it
  gets ``n/a``.
- Which SDPA backend the attention ran on (CLIP's ``nn.MultiheadAttention`` and STAN's
  temporal attention both call ``scaled_dot_product_attention``): the backend ops and
  the CUDA kernel names of one profiled step (``torch.profiler``): flash / efficient /
  cudnn / math.

fp32 rows run with torch's default fp32 matmul precision (TF32 off unless the
environment turned it on; the header says which). ``--cpu-smoke``: a tiny CLIP
(``configs/_base_/models/tiny_clip.py``, the test suite's) with K=2 at 32 px, batch 2,
on the CPU (bf16 = CPU autocast), peak memory and MFU ``n/a``: it checks the script, not
the machine.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import copy  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os.path as osp  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Callable, Dict, List, Optional, Tuple  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

#: Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s: ``(pattern on
#: torch.cuda.get_device_name(), name, peak)``. The datasheets print the sparse figure
#: (2x) with an asterisk; the dense one is half of it.
#:
#: - H100 SXM: NVIDIA H100 Tensor Core GPU datasheet, "BF16 Tensor Core 1,979 TFLOPS*"
#:   (SXM5, with sparsity); NVIDIA H100 Tensor Core GPU Architecture whitepaper: 989.4
#:   dense. ``NVIDIA H100 80GB HBM3`` is the SXM5 part (PCIe and NVL are named so).
#: - H200: NVIDIA H200 Tensor Core GPU datasheet, "BF16 Tensor Core 1,979 TFLOPS*" (H200
#:   SXM, with sparsity; H200 NVL is lower, not listed).
#: - A100: NVIDIA A100 Tensor Core GPU datasheet, "BF16 Tensor Core 312 TFLOPS | 624
#:   TFLOPS*" (SXM and PCIe alike).
#: - L40S: NVIDIA L40S GPU datasheet, "BF16 Tensor Core 362.05 | 733 TFLOPS*".
#: - RTX 4090: NVIDIA Ada Lovelace GPU Architecture whitepaper, appendix table, GeForce
#:   RTX 4090 "Peak BF16 Tensor TFLOPS with FP32 Accumulate 165.2 | 330.4".
BF16_PEAKS: List[Tuple[str, str, float]] = [
    (r'H100 (SXM|80GB HBM3)', 'H100 SXM', 989.4),
    (r'H200(?! NVL)', 'H200 SXM', 989.4),
    (r'A100', 'A100', 312.0),
    (r'L40S', 'L40S', 362.05),
    (r'RTX 4090$', 'GeForce RTX 4090', 165.2),
]

STAN_CONFIG = osp.join(ROOT, 'configs', 'stan', 'k400.py')
TINY_CLIP = osp.join(ROOT, 'configs', '_base_', 'models', 'tiny_clip.py')


def bf16_peak(device_name: str) -> Optional[Tuple[str, float]]:
    """``(name, dense bf16 TFLOP/s)`` of a known device, else None."""
    for pattern, name, peak in BF16_PEAKS:
        if re.search(pattern, device_name):
            return name, peak
    return None


# ---- models ------------------------------------------------------------------------------

def stan_config(arch, frames: int, size: int, smoke: bool) -> Config:
    """configs/stan/k400.py (STAN-B/16 K=4, linear head) with ``arch`` at ``frames`` x ``size``."""
    cfg = Config.fromfile(STAN_CONFIG)
    backbone = cfg.model.backbone
    backbone.update(arch=arch, pretrained=None, num_frames=frames, drop_path_rate=0.1)
    if smoke:
        backbone.update(num_layers=2, input_resolution=size)
    return cfg


def build(cfg: Config, device: str):
    from mmstan.analysis import build_video_model

    return build_video_model(cfg).to(device)


def build_pair(cfg: Config, device: str, embed_dim: int):
    """The STAN recognizer and its mean-pooling twin (CLIP weights shared)."""
    from mmstan.analysis.benchmark import mean_pool_cfg, share_weights

    cfg.model.cls_head.in_channels = embed_dim
    torch.manual_seed(0)
    stan = build(copy.deepcopy(cfg), device)
    base = build(mean_pool_cfg(cfg), device)
    share_weights(stan, base)
    return stan, base


def set_checkpointing(model, enable: bool) -> None:
    """Gradient checkpointing of the CLIP blocks and (CLIPSTAN) the STAN layers."""
    model.backbone.clip.set_grad_checkpointing(enable)
    if hasattr(model.backbone, 'stan'):
        model.backbone.stan.grad_checkpointing = enable


def make_batch(batch: int, frames: int, size: int, device: str) -> dict:
    """What the data loader gives ``train_step``: uint8 clips and labelled samples."""
    from mmaction.structures import ActionDataSample

    gen = torch.Generator(device='cpu').manual_seed(0)
    inputs = [torch.randint(0, 256, (1, 3, frames, size, size), dtype=torch.uint8, generator=gen).to(device)
              for _ in range(batch)]
    return dict(inputs=inputs, data_samples=[ActionDataSample().set_gt_label(i % 400) for i in range(batch)])


def optim_wrapper(model, dtype: str):
    from mmengine.optim import OptimWrapper

    from mmstan.engine import MixedPrecisionOptimWrapper

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.02)
    if dtype == 'fp32':
        return OptimWrapper(optimizer=optimizer)
    return MixedPrecisionOptimWrapper(dtype=dtype, optimizer=optimizer)


# ---- measurements ----------------------------------------------------------------------

def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def forward_macs(model, frames: int, size: int, device: str) -> int:
    """Forward multiply-accumulates of one clip (backbone + head), as get_flops.py."""
    from mmstan.analysis import count_flops

    model.eval()
    clip = torch.randn(1, 3, frames, size, size, device=device)
    return count_flops(lambda x: model.cls_head(model.backbone(x)), clip)


SDPA_OPS = (('_scaled_dot_product_flash_attention_for_cpu', 'flash (CPU kernel)'),
            ('_scaled_dot_product_flash_attention', 'flash'),
            ('_scaled_dot_product_efficient_attention', 'efficient'),
            ('_scaled_dot_product_cudnn_attention', 'cudnn'),
            ('_scaled_dot_product_fused_attention_overrideable', 'overrideable'),
            ('_scaled_dot_product_attention_math', 'math'))


def sdpa_backend_of_op(name: str) -> Optional[str]:
    """The SDPA backend of a forward aten op name, or None."""
    if 'backward' in name:
        return None
    for op, backend in SDPA_OPS:
        if name == f'aten::{op}':
            return backend
    return None


def attention_kernel_family(name: str) -> Optional[str]:
    """The SDPA backend a CUDA kernel name belongs to, or None (not an attention kernel)."""
    low = name.lower()
    if 'cudnn' in low and ('sdpa' in low or 'fmha' in low or 'attention' in low or 'flash' in low):
        return 'cudnn'
    if 'flash' in low:
        return 'flash'
    if 'fmha' in low or 'attentionkernel' in low or 'mem_eff' in low or 'efficient_attention' in low:
        return 'efficient'
    return None


def profile_sdpa(step: Callable[[], None], device: str) -> dict:
    """One profiled ``step``: forward SDPA ops per backend, and the attention kernels."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith('cuda') else [])
    with profile(activities=activities) as prof:
        step()
        synchronize(device)
    ops: Dict[str, int] = {}
    kernels: Dict[str, int] = {}
    kernel_names: Dict[str, str] = {}
    for event in prof.key_averages():
        backend = sdpa_backend_of_op(event.key)
        if backend:
            ops[backend] = ops.get(backend, 0) + event.count
            continue
        on_device = getattr(event, 'device_type', None) == DeviceType.CUDA  # a kernel, not an op
        family = attention_kernel_family(event.key) if on_device else None
        if family:
            kernels[family] = kernels.get(family, 0) + event.count
            kernel_names.setdefault(family, event.key[:160])
    return dict(ops=ops, kernels=kernels, kernel_examples=kernel_names)


def sdpa_summary(sdpa: dict) -> str:
    ops = ', '.join(f'{k} x{v}' for k, v in sorted(sdpa['ops'].items())) or 'none seen'
    if sdpa['kernels']:
        ops += '; kernels: ' + ', '.join(f'{k} x{v}' for k, v in sorted(sdpa['kernels'].items()))
    return ops


def train_row(model, name: str, kind: str, dtype: str, checkpointing: bool, data: dict, args,
              device: str, macs: int, peak: Optional[Tuple[str, float]], frames: int, size: int) -> dict:
    """Time ``model.train_step`` on ``data``; a row of the table (``kind``: ``'STAN'`` or
    ``'mean pooling'``)."""
    batch = len(data['inputs'])
    row = dict(model=name, kind=kind, frames=frames, size=size, batch=batch, dtype=dtype,
               grad_checkpointing=checkpointing, gmacs_per_clip=macs / 1e9)
    set_checkpointing(model, checkpointing)
    model.train()
    wrapper = None
    try:
        wrapper = optim_wrapper(model, dtype)

        def step():
            model.train_step(data, wrapper)

        if device.startswith('cuda'):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        for _ in range(args.warmup):
            step()
        synchronize(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        synchronize(device)
        seconds = (time.perf_counter() - start) / args.steps
        row.update(status='ok', ms_per_step=seconds * 1e3, clips_per_s=batch / seconds)
        row['peak_mem_gib'] = torch.cuda.max_memory_allocated() / 2 ** 30 \
            if device.startswith('cuda') else None
        train_flops = 6 * macs * row['clips_per_s']   # model FLOP/s
        row['tflops'] = train_flops / 1e12
        row['mfu'] = train_flops / (peak[1] * 1e12) if peak and dtype == 'bf16' else None
        row['sdpa'] = profile_sdpa(step, device)
    except torch.OutOfMemoryError:
        row.update(status='OOM')
    except Exception as error:  # noqa: BLE001  (a row that fails is reported, the rest runs)
        row.update(status=f'error: {type(error).__name__}: {str(error)[:200]}')
    finally:
        wrapper = None  # noqa: F841  (drop the optimizer state before the next row)
        model.zero_grad(set_to_none=True)
        gc.collect()
        if device.startswith('cuda'):
            torch.cuda.empty_cache()
    return row


# ---- the run -----------------------------------------------------------------------------

_START = time.perf_counter()


def progress(message: str) -> None:
    print(f'[gpu_benchmark {time.perf_counter() - _START:5.0f}s] {message}', file=sys.stderr, flush=True)


def environment(device: str) -> dict:
    from mmstan.engine.amp import cuda_has_bf16

    env = dict(device=device, torch=torch.__version__, cuda=torch.version.cuda,
               python=platform.python_version())
    if device.startswith('cuda'):
        props = torch.cuda.get_device_properties(0)
        env.update(device_name=torch.cuda.get_device_name(0),
                   capability='.'.join(map(str, torch.cuda.get_device_capability(0))),
                   memory_gib=props.total_memory / 2 ** 30, bf16_native=cuda_has_bf16(),
                   cudnn=torch.backends.cudnn.version(),
                   tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
                   tf32_cudnn=torch.backends.cudnn.allow_tf32)
    else:
        env.update(device_name=f'CPU ({platform.processor() or platform.machine()}, '
                   f'{torch.get_num_threads()} threads)', bf16_native=None)
    peak = bf16_peak(env['device_name']) if device.startswith('cuda') else None
    env['bf16_peak'] = dict(name=peak[0], tflops=peak[1]) if peak else None
    return env


def run(args) -> dict:
    smoke = args.cpu_smoke
    device = 'cpu' if smoke else 'cuda'
    if not smoke and not torch.cuda.is_available():
        raise SystemExit('error: no CUDA device (torch.cuda.is_available() is False); '
                         'use --cpu-smoke to check the script on the CPU')
    env = environment(device)
    peak = (env['bf16_peak']['name'], env['bf16_peak']['tflops']) if env['bf16_peak'] else None
    if smoke:
        arch = Config.fromfile(TINY_CLIP).tiny_clip_arch
        base_arch, large_arch, size, embed, large_embed = arch, arch, 32, arch['embed_dim'], arch['embed_dim']
        names = {'STAN': 'STAN-tiny (K=2)', 'mean pooling': 'CLIP-tiny mean pooling',
                 'large': 'STAN-tiny (L/14 stand-in)'}
    else:
        base_arch, large_arch, size, embed, large_embed = 'ViT-B-16', 'ViT-L-14', 224, 512, 768
        names = {'STAN': 'STAN-B/16', 'mean pooling': 'CLIP-B/16 mean pooling', 'large': 'STAN-L/14'}
    frames, large_frames = 8, 16
    dtypes = ['fp32', 'bf16']
    if device == 'cuda' and not env['bf16_native']:
        dtypes = ['fp32']  # bf16 rows: n/a on this device (reported in the header)

    rows = []
    progress('building the models')
    stan, base = build_pair(stan_config(base_arch, frames, size, smoke), device, embed)
    macs = {'STAN': forward_macs(stan, frames, size, device),
            'mean pooling': forward_macs(base, frames, size, device)}
    data = make_batch(args.batch, frames, size, device)
    progress(f'forward GMACs per clip: STAN {macs["STAN"] / 1e9:.2f}, mean pooling '
             f'{macs["mean pooling"] / 1e9:.2f}')
    for dtype in dtypes:
        for checkpointing in (False, True):
            for kind, model in (('STAN', stan), ('mean pooling', base)):
                rows.append(train_row(model, names[kind], kind, dtype, checkpointing, data, args, device,
                                      macs[kind], peak, frames, size))
                progress(format_row(rows[-1]))
    overhead = []
    for dtype in dtypes:
        for checkpointing in (False, True):
            pair = {r['kind']: r for r in rows
                    if r['dtype'] == dtype and r['grad_checkpointing'] == checkpointing}
            s, m = pair.get('STAN'), pair.get('mean pooling')
            ok = s and m and s['status'] == m['status'] == 'ok'
            overhead.append(dict(dtype=dtype, grad_checkpointing=checkpointing,
                                 time_ratio=s['ms_per_step'] / m['ms_per_step'] if ok else None,
                                 flops_ratio=macs['STAN'] / macs['mean pooling']))
    del stan, base, data
    gc.collect()

    large = None
    if not args.skip_large and 'bf16' in dtypes:
        if device == 'cuda':
            torch.cuda.empty_cache()
        cfg = stan_config(large_arch, large_frames, size, smoke)
        cfg.model.cls_head.in_channels = large_embed
        torch.manual_seed(0)
        model = build(cfg, device)
        large_macs = forward_macs(model, large_frames, size, device)
        large = train_row(model, names['large'], 'STAN', 'bf16', True,
                          make_batch(1, large_frames, size, device), args, device, large_macs, peak,
                          large_frames, size)
        progress(format_row(large))
        del model
    return dict(environment=env, settings=dict(batch=args.batch, warmup=args.warmup, steps=args.steps,
                                               smoke=smoke),
                rows=rows, overhead=overhead, large=large)


# ---- output ------------------------------------------------------------------------------

def _num(value, fmt: str) -> str:
    return 'n/a' if value is None else format(value, fmt)


def format_row(row: dict) -> str:
    ok = row['status'] == 'ok'
    cells = [row['model'], f"{row['frames']}x{row['size']}", str(row['batch']), row['dtype'],
             'yes' if row['grad_checkpointing'] else 'no',
             _num(row.get('clips_per_s'), '.2f') if ok else row['status'],
             _num(row.get('ms_per_step'), '.1f') if ok else '',
             _num(row.get('peak_mem_gib'), '.2f') if ok else '',
             _num(row['gmacs_per_clip'], '.2f'),
             _num(row.get('tflops'), '.3g') if ok else '',
             (_num(row['mfu'] * 100, '.1f') + '%' if row.get('mfu') is not None else 'n/a') if ok else '',
             sdpa_summary(row['sdpa']) if ok else '']
    return '| ' + ' | '.join(cells) + ' |'


HEADER = ('| model | frames x px | batch | dtype | grad ckpt | clips/s | ms/step | peak GiB | '
          'GMACs/clip (fwd) | model TFLOP/s | MFU (bf16 peak) | SDPA forward ops; kernels |\n'
          '|---|---|---|---|---|---|---|---|---|---|---|---|')


def markdown(result: dict) -> str:
    env, settings = result['environment'], result['settings']
    peak = env['bf16_peak']
    lines = ['## mmstan GPU benchmark' + (' (CPU smoke run: tiny model, not a measurement of this machine)'
                                          if settings['smoke'] else ''), '']
    lines.append(f"- device: **{env['device_name']}**"
                 + (f", compute capability {env['capability']}, {env['memory_gib']:.0f} GiB, "
                    f"native bf16: {'yes' if env['bf16_native'] else 'no'}" if 'capability' in env else ''))
    lines.append(f"- torch {env['torch']}, CUDA {env['cuda']}"
                 + (f", cuDNN {env['cudnn']}, TF32 matmul {'on' if env['tf32_matmul'] else 'off'} / "
                    f"cuDNN conv {'on' if env['tf32_cudnn'] else 'off'}" if 'cudnn' in env else '')
                 + f", Python {env['python']}")
    lines.append(f"- bf16 dense peak: {peak['tflops']} TFLOP/s ({peak['name']}, datasheet; "
                 'sources in tools/analysis/gpu_benchmark.py)' if peak else
                 '- bf16 dense peak: unknown for this device, MFU n/a')
    lines.append(f"- train step = `model.train_step` (preprocess, forward, backward, AdamW); "
                 f"{settings['warmup']} warm-up + {settings['steps']} timed steps; bf16 = autocast "
                 'without loss scaler (`MixedPrecisionOptimWrapper`); model TFLOP/s = 6 x forward '
                 'MACs x clips/s (recomputation not counted); peak = `torch.cuda.max_memory_allocated`')
    lines += ['', HEADER] + [format_row(r) for r in result['rows']]
    if result['large']:
        lines.append(format_row(result['large']))
    lines += ['', '### STAN over CLIP mean pooling', '',
              '| dtype | grad ckpt | step time ratio | forward FLOPs ratio |', '|---|---|---|---|']
    for o in result['overhead']:
        lines.append(f"| {o['dtype']} | {'yes' if o['grad_checkpointing'] else 'no'} | "
                     f"{_num(o['time_ratio'], '.2f')} | {o['flops_ratio']:.2f} |")
    return '\n'.join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='GPU training benchmark of STAN vs CLIP mean '
                                     'pooling (the device check table)')
    parser.add_argument('--cpu-smoke', action='store_true',
                        help='tiny CLIP on the CPU: checks the script in seconds, measures nothing')
    parser.add_argument('--json', help='also write the results to this JSON file')
    parser.add_argument('--batch', type=int, default=None,
                        help='clips per step for the B/16 rows (default 16; 2 with --cpu-smoke)')
    parser.add_argument('--warmup', type=int, default=None, help='untimed steps (default 3; 1 smoke)')
    parser.add_argument('--steps', type=int, default=None, help='timed steps (default 10; 2 smoke)')
    parser.add_argument('--skip-large', action='store_true', help='skip the L/14 16-frame row')
    args = parser.parse_args(argv)
    smoke = args.cpu_smoke
    args.batch = args.batch or (2 if smoke else 16)
    args.warmup = args.warmup if args.warmup is not None else (1 if smoke else 3)
    args.steps = args.steps or (2 if smoke else 10)
    if smoke:
        torch.set_num_threads(1)  # tiny ops: threads only wait on each other (and on a busy CPU, long)

    from mmengine.registry import init_default_scope

    import mmstan  # noqa: F401  (registration)
    init_default_scope('mmaction')
    start = time.perf_counter()
    result = run(args)
    result['seconds'] = time.perf_counter() - start
    print(markdown(result))
    print(f'\n(benchmark ran {result["seconds"]:.0f} s)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'results: {args.json}')
    failed = [r for r in result['rows'] + [result['large'] or {'status': 'ok'}] if r['status'] != 'ok']
    if failed and any(not r['status'] == 'OOM' for r in failed):
        raise SystemExit(1)
    return result


if __name__ == '__main__':
    main()
