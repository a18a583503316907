"""Peak CPU memory of one CLIPSTAN training forward + backward with and without gradient
checkpointing, side by side in one run, and their ratio.

    python tools/analysis/train_step_memory.py [--arch ViT-L-14] [--vision-layers N] \
        [--frames 16] [--size 224] [--batch 1] [--stan-layers 4]

What runs: ``CLIPSTAN`` (the open_clip ``--arch`` vision tower, random init, no download,
+ a ``--stan-layers`` STAN branch) in train mode and fp32 on a ``[batch, 3, frames, size,
size]`` clip; one forward, a scalar loss on the frame embeddings, one backward (no
optimizer step: AdamW's states are the same with and without checkpointing). Each setting
runs in a fresh subprocess; extra memory = peak RSS minus RSS once the model and input
exist. ``--vision-layers`` cuts the vision tower (for machines where the full one does not
fit; the table says how many layers ran). The measurement is
:mod:`mmstan.analysis.train_step_memory`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import json  # noqa: E402
import os.path as osp  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from mmstan.analysis import train_step_memory as memory  # noqa: E402


def _child(args, checkpointing: bool) -> dict:
    cmd = [sys.executable, osp.abspath(__file__), '--child', 'on' if checkpointing else 'off',
           '--arch', args.arch, '--frames', str(args.frames), '--size', str(args.size),
           '--batch', str(args.batch), '--stan-layers', str(args.stan_layers)]
    if args.vision_layers:
        cmd += ['--vision-layers', str(args.vision_layers)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f'train-step child failed (checkpointing {checkpointing}):\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='ViT-L-14', help='open_clip model config name')
    parser.add_argument('--vision-layers', type=int, help='cut the vision tower to N blocks')
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--stan-layers', type=int, default=4)
    parser.add_argument('--child', choices=('on', 'off'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        arch = memory.clip_arch(args.arch, args.vision_layers)
        print(json.dumps(memory.run_one(arch, args.child == 'on', args.frames, args.size,
                                        args.batch, args.stan_layers)))
        return []
    results = [_child(args, checkpointing) for checkpointing in (False, True)]
    first = results[0]
    print(f'CLIPSTAN {args.arch} ({first["vision_layers"]} vision layers'
          f'{" of the full tower: cut by --vision-layers" if args.vision_layers else ""}, '
          f'K={args.stan_layers} STAN layers, {first["params_m"]:.1f} M parameters), batch '
          f'{args.batch} x {args.frames} frames at {args.size}, fp32, CPU: one forward + backward')
    print('| gradient checkpointing | peak RSS (MB) | extra over model + input (MB) | time (s) | '
          'load average |')
    print('|---|---|---|---|---|')
    for r in results:
        print(f'| {"on" if r["checkpointing"] else "off"} | {r["peak_mb"]:.0f} | {r["extra_mb"]:.0f} | '
              f'{r["seconds"]:.1f} | {r["load"]:.1f} |')
    off, on = results
    print(f'extra memory without / with checkpointing: {off["extra_mb"] / max(on["extra_mb"], 1e-9):.2f}x '
          f'(peak RSS {off["peak_mb"] / on["peak_mb"]:.2f}x)')
    return results


if __name__ == '__main__':
    main()
