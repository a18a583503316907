"""Time a config's STAN model against the same config with frame mean pooling, in one
run, and report the achieved FLOP/s against a matmul peak measured on this machine.

    python tools/analysis/benchmark.py configs/stan/k400.py [--repeats 3] [--backward]

Both models share architecture, input and weights of the CLIP tower; only the STAN
branch differs. Prints forward (and with --backward, forward+backward) time per view,
the STAN / mean-pooling time ratio, the FLOPs ratio, and FLOP/s utilisation.

Recognition configs time backbone + classification head on one view; retrieval configs
(``VideoTextRetriever``) time the whole model on one view and one caption (video tower,
text tower and similarity head), so their ratio includes the shared text-tower cost.
The measurement is :func:`mmstan.analysis.benchmark.benchmark`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from mmstan.analysis.benchmark import benchmark, matmul_peak  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='STAN vs mean pooling timing')
    parser.add_argument('config')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--backward', action='store_true', help='also time forward+backward')
    parser.add_argument('--threads', type=int, default=None, help='torch threads')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    measured = benchmark(cfg, args.repeats, args.backward)
    results, (c, t, h, w) = measured['results'], measured['shape']
    peak = matmul_peak()
    print(f'config: {args.config}; one view {c}x{t}x{h}x{w}; {torch.get_num_threads()} threads')
    print(f'matmul peak (best of 1024/2048/4096 float32): {peak / 1e9:.1f} GFLOP/s')
    modes = ['forward'] + (['forward_backward'] if args.backward else [])
    for name, res in results.items():
        flops = 2 * res['macs']  # true floating-point operations
        line = f'{name:>13}: {res["macs"] / 1e9:6.1f} GMACs'
        for mode in modes:
            ops = flops * (3 if mode == 'forward_backward' else 1)  # backward ~ 2x forward
            line += (f' | {mode} {res[mode] * 1000:8.1f} ms, {ops / res[mode] / 1e9:6.1f} GFLOP/s'
                     f' ({100 * ops / res[mode] / peak:4.1f}% of peak)')
        print(line)
    for mode in modes:
        ratio = results['STAN'][mode] / results['mean pooling'][mode]
        print(f'STAN / mean pooling {mode} time: {ratio:.2f}x '
              f'(FLOPs ratio {results["STAN"]["macs"] / results["mean pooling"]["macs"]:.2f}x)')
    return results


if __name__ == '__main__':
    main()
