"""Decode throughput (clips/s) of the same videos as individual files and from indexed tar
shards, in one run, the index build time per 1000 samples, and the dataset's load time and
memory per sample.

    python tools/analysis/benchmark_shards.py [--videos 200 --size 96 --frames 10]
        [--samples-per-shard 50 --rounds 5 --index-samples 10000] [--out DIR]

Both sides decode 8 uniformly sampled frames per clip through the real datasets
(VideoCaptionDataset + DecordInit on the files, ShardedVideoCaptionDataset +
ShardDecordInit on the shards tools/data/make_shards.py writes from them), timed sample
by sample in alternation for --rounds rounds; medians are printed. Files and shards lie
on the same local disk and
are in the page cache after the first round, so this measures the per-sample cost of
reading by index, not the metadata cost of millions of files on a shared filesystem.
The measurement is mmstan.analysis.benchmark_shards.benchmark_shards.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import os  # noqa: E402

from mmstan.analysis.benchmark_shards import benchmark_shards  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--videos', type=int, default=200)
    parser.add_argument('--size', type=int, default=96, help='frame size of the synthetic clips (px)')
    parser.add_argument('--frames', type=int, default=10, help='frames per synthetic clip (2-10)')
    parser.add_argument('--samples-per-shard', type=int, default=50)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--index-samples', type=int, default=10000,
                        help='samples of the one large tar whose index build is timed')
    parser.add_argument('--out', help='keep the videos and shards here (default: a temporary folder)')
    args = parser.parse_args(argv)
    r = benchmark_shards(args.videos, args.size, args.frames, args.samples_per_shard, args.rounds,
                         args.index_samples, out=args.out)
    print(f'{r["videos"]} synthetic clips ({r["size"]} px, {r["frames"]} frames), 8 frames decoded '
          f'each, median of {r["rounds"]} rounds, load average {os.getloadavg()[0]:.1f} on '
          f'{os.cpu_count()} CPUs:')
    print(f'  individual files: {r["files_clips_per_s"]:.1f} clips/s')
    print(f'  tar shards ({r["shards"]}, read by index): {r["shards_clips_per_s"]:.1f} clips/s')
    print(f'  ratio shards / files: {r["ratio"]:.2f}')
    print(f'index build: {r["index_s_per_1000"]:.3f} s per 1000 samples (the {r["shards"]} shards '
          f'above); {r["big_index_s_per_1000"]:.3f} s per 1000 samples (one tar of '
          f'{r["big_index_samples"]} samples, {r["big_index_tar_mb"]:.0f} MB)')
    print(f'dataset load from the index: {r["load_s_per_1000"]:.3f} s per 1000 samples, '
          f'{r["bytes_per_sample"]:.0f} bytes per sample in its serialized list')
    return r


if __name__ == '__main__':
    main()
