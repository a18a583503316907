"""Time per query of the two-stage video search (tools/search.py) on an index of random
embeddings: stage 1 (FAISS inner product over pooled embeddings), stage 2 (the Mug head
on the top candidates' stored frames), against exact Mug over the whole gallery.

    python tools/analysis/benchmark_search.py --videos 10000 [--rerank 50 --queries 50]
        [--frames 12 --tokens 32 --dim 512] [--text-arch ViT-B-32 | none] [--threads N] [--out DIR]

The index is written with the real index code (shards + manifest + FAISS file) and
reopened from disk before the queries, as ``tools/search.py query`` does. Caption
encoding is timed separately with a random-initialised text tower of ``--text-arch``.
The measurement is :func:`mmstan.analysis.benchmark_search.benchmark_search`.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402

from mmstan.analysis.benchmark_search import benchmark_search  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--videos', type=int, default=10000, help='videos in the index')
    parser.add_argument('--frames', type=int, default=12)
    parser.add_argument('--tokens', type=int, default=32)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--rerank', type=int, default=50, help='stage-1 candidates re-ranked')
    parser.add_argument('--top-k', type=int, default=10)
    parser.add_argument('--queries', type=int, default=50, help='queries timed (one at a time)')
    parser.add_argument('--exact-queries', type=int, default=5,
                        help='queries timed with exact Mug over the whole gallery')
    parser.add_argument('--text-arch', default='ViT-B-32',
                        help="open_clip arch whose text tower encoding is timed ('none': skip)")
    parser.add_argument('--threads', type=int, help='torch and FAISS threads (default: as set up)')
    parser.add_argument('--out', help='keep the index here (default: a temporary folder)')
    args = parser.parse_args(argv)
    import faiss
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)

    r = benchmark_search(args.videos, args.frames, args.tokens, args.dim, args.rerank, args.top_k,
                         args.queries, args.exact_queries, args.text_arch, args.out)
    print(f'index of {r["videos"]} random videos ({args.frames} frames x {args.dim}-d, '
          f'{torch.get_num_threads()} torch / {faiss.omp_get_max_threads()} FAISS threads): '
          f'built in {r["build_s"]:.1f} s, '
          f'opened in {r["open_s"]:.2f} s')
    print(f'per query (median of {args.queries}, {args.tokens} tokens): '
          f'stage 1 {r["stage_one_ms"]:.2f} ms + stage 2 (Mug on {args.rerank}) '
          f'{r["stage_two_ms"]:.2f} ms = {r["total_ms"]:.2f} ms; '
          f'exact Mug over all {r["videos"]}: {r["exact_ms"]:.1f} ms')
    if 'text_ms' in r:
        print(f'caption encoding ({args.text_arch} text tower, random init): {r["text_ms"]:.1f} ms')
    return r


if __name__ == '__main__':
    main()
