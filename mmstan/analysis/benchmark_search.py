"""Time per query of the two-stage video search (``tools/search.py``) on an index of random
embeddings: stage 1 (FAISS inner product over pooled embeddings), stage 2 (the Mug head
on the top candidates' stored frames), against exact Mug over the whole gallery (the
library of ``tools/analysis/benchmark_search.py``).

The index is written with the real index code (shards + manifest + FAISS file) and
reopened from disk before the queries, as ``tools/search.py query`` does. Caption
encoding is timed separately with a random-initialised text tower.
"""
import statistics
import tempfile
import time
from typing import Optional


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


def benchmark_search(videos: int = 10000, frames: int = 12, tokens: int = 32, dim: int = 512,
                     rerank: int = 50, top_k: int = 10, queries: int = 50, exact_queries: int = 5,
                     text_arch: str = 'ViT-B-32', out: Optional[str] = None) -> dict:
    """Build an index of ``videos`` random videos (in ``out``, else a temporary folder),
    reopen it, and time ``queries`` two-stage searches (median ms of stage 1 and stage 2
    re-ranking ``rerank`` candidates), exact Mug over the whole gallery on
    ``exact_queries`` of them, and (unless ``text_arch`` is ``'none'``) one caption's
    encoding. Returns ``dict(videos, build_s, open_s, stage_one_ms, stage_two_ms, total_ms,
    exact_ms[, text_ms])``."""
    import torch
    import torch.nn.functional as F

    from mmstan.models.heads.mug_head import MugHead
    from mmstan.search import Timing, VideoIndex, search

    with tempfile.TemporaryDirectory() as tmp:
        root = out or tmp
        head = MugHead('mug', embed_dim=dim)
        build_s = build_random_index(root, head, videos, frames, dim)
        t = time.perf_counter()
        index = VideoIndex.open(root)
        index.faiss_index()
        open_s = time.perf_counter() - t
        gen = torch.Generator().manual_seed(1)
        q = queries
        text = F.normalize(torch.randn(q, tokens, dim, generator=gen), dim=-1)
        mask = torch.ones(q, tokens, dtype=torch.bool)
        mask[:, tokens // 2:] = torch.rand(q, 1, generator=gen) < 0.5  # half are short
        pooled = F.normalize(torch.randn(q, dim, generator=gen), dim=-1)
        one, two, exact = [], [], []
        for i in range(-1, q):  # query -1 (the first one, repeated) warms up
            j = max(i, 0)
            timing = Timing()
            search(index, head, text[j:j + 1], mask[j:j + 1], pooled[j:j + 1], top_k,
                   rerank, timing)
            if i >= 0:
                one.append(1000 * timing.stage_one)
                two.append(1000 * timing.stage_two)
        every = torch.from_numpy(index.frames(range(len(index))))  # exact: all frames in memory
        for j in range(min(q, exact_queries)):
            t = time.perf_counter()
            head.gallery(text[j:j + 1], mask[j:j + 1], pooled[j:j + 1], every)
            exact.append(1000 * (time.perf_counter() - t))
        del every
    result = dict(videos=videos, build_s=build_s, open_s=open_s,
                  stage_one_ms=statistics.median(one), stage_two_ms=statistics.median(two),
                  total_ms=statistics.median(a + b for a, b in zip(one, two)),
                  exact_ms=statistics.median(exact) if exact else float('nan'))
    if text_arch != 'none':
        result['text_ms'] = text_encoding_ms(text_arch, tokens)
    return result
