"""Time per query of the two-stage video search (tools/search.py) on an index of random
embeddings: stage 1 (FAISS inner product over pooled embeddings), stage 2 (the Mug head
on the top candidates' stored frames), against exact Mug over the whole gallery.

    python tools/analysis/benchmark_search.py --videos 10000 [--rerank 50 --queries 50]
        [--frames 12 --tokens 32 --dim 512] [--text-arch ViT-B-32 | none] [--threads N] [--out DIR]

The index is written with the real index code (shards + manifest + FAISS file) and
reopened from disk before the queries, as ``tools/search.py query`` does. Caption
encoding is timed separately with a random-initialised text tower of ``--text-arch``.
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def build_random_index(root: str, head, videos: int, frames: int, dim: int,
                       shard: int = 1000) -> float:
    """Write an index of ``videos`` random frame embeddings (stage-1 vectors of ``head``);
    returns the seconds taken."""
    import torch

    from mmstan.search import VideoIndex, stage1_rule, video_vectors

    start = time.perf_counter()
    index = VideoIndex.create(root, dict(stage1=stage1_rule(head), embed_dim=dim, source='random'))
    gen = torch.Generator().manual_seed(0)
    for lo in range(0, videos, shard):
        n = min(shard, videos - lo)
        f = torch.randn(n, frames, dim, generator=gen)
        index.append([f'random/{i:07d}.mp4' for i in range(lo, lo + n)], f.numpy(),
                     video_vectors(head, f).numpy())
    index.faiss_index()
    return time.perf_counter() - start


def text_encoding_ms(arch: str, tokens: int, repeats: int = 5) -> float:
    """Median ms to encode one caption with a random-initialised ``arch`` text tower."""
    import torch

    from mmstan.models.clip import CLIPText, create_clip

    text = CLIPText(create_clip(arch)).eval()
    ids = torch.zeros(1, tokens, dtype=torch.long)
    ids[0, :10] = torch.randint(1, 49405, (10,))
    ids[0, 10] = 49407
    times = []
    with torch.no_grad():
        for _ in range(repeats + 1):
            t = time.perf_counter()
            text(ids)
            times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times[1:])


def run(args) -> dict:
    import torch
    import torch.nn.functional as F

    from mmstan.models.heads.mug_head import MugHead
    from mmstan.search import Timing, VideoIndex, search

    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or tmp
        head = MugHead('mug', embed_dim=args.dim)
        build_s = build_random_index(root, head, args.videos, args.frames, args.dim)
        t = time.perf_counter()
        index = VideoIndex.open(root)
        index.faiss_index()
        open_s = time.perf_counter() - t
        gen = torch.Generator().manual_seed(1)
        q = args.queries
        tokens = F.normalize(torch.randn(q, args.tokens, args.dim, generator=gen), dim=-1)
        mask = torch.ones(q, args.tokens, dtype=torch.bool)
        mask[:, args.tokens // 2:] = torch.rand(q, 1, generator=gen) < 0.5  # half are short
        pooled = F.normalize(torch.randn(q, args.dim, generator=gen), dim=-1)
        one, two, exact = [], [], []
        for i in range(-1, q):  # query -1 (the first one, repeated) warms up
            j = max(i, 0)
            timing = Timing()
            search(index, head, tokens[j:j + 1], mask[j:j + 1], pooled[j:j + 1], args.top_k,
                   args.rerank, timing)
            if i >= 0:
                one.append(1000 * timing.stage_one)
                two.append(1000 * timing.stage_two)
        every = torch.from_numpy(index.frames(range(len(index))))  # exact: all frames in memory
        for j in range(min(q, args.exact_queries)):
            t = time.perf_counter()
            head.gallery(tokens[j:j + 1], mask[j:j + 1], pooled[j:j + 1], every)
            exact.append(1000 * (time.perf_counter() - t))
        del every
    result = dict(videos=args.videos, build_s=build_s, open_s=open_s,
                  stage_one_ms=statistics.median(one), stage_two_ms=statistics.median(two),
                  total_ms=statistics.median(a + b for a, b in zip(one, two)),
                  exact_ms=statistics.median(exact) if exact else float('nan'))
    if args.text_arch != 'none':
        result['text_ms'] = text_encoding_ms(args.text_arch, args.tokens)
    return result


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

    r = run(args)
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
