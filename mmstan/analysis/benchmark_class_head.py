"""Time of one pass of ``TextClassHead`` ([M] eq. 20) with Mug scoring against the
global cosine, measured side by side (the library of
``tools/analysis/benchmark_class_head.py``, whose docstring describes the passes).

Both heads are built on one CLIP whose embedding width is ``dim`` (its text tower is
small: it runs once per head to encode the class names, which are cached and are not part
of a head pass). One pass takes random ``[batch, frames, dim]`` frame embeddings to
``[batch, classes]`` logits; Mug and global passes alternate within each repeat, so that
both see the same machine load.
"""
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

from mmstan.analysis.benchmark_mug import load_average  # noqa: F401  (re-exported for the tool)
from mmstan.utils.paths import REPO_ROOT

#: mmaction2's K400 label map, where the shared data has it.
K400_LABEL_MAP = osp.join(REPO_ROOT, '..', 'shared', 'data', 'mmaction2', 'label_maps', 'k400.txt')
#: K400 class names, for machines without the label map (repeated up to ``--classes``).
K400_SAMPLE = [
    'abseiling', 'air drumming', 'answering questions', 'applauding', 'applying cream',
    'archery', 'arm wrestling', 'arranging flowers', 'assembling computer', 'auctioning',
    'baby waking up', 'baking cookies', 'balloon blowing', 'bandaging', 'barbequing',
    'bartending', 'beatboxing', 'bee keeping', 'belly dancing', 'bench pressing',
    'bending back', 'bending metal', 'biking through snow', 'blasting sand', 'blowing glass',
    'blowing leaves', 'blowing nose', 'blowing out candles', 'bobsledding', 'bookbinding',
    'bouncing on trampoline', 'bowling', 'braiding hair', 'breading or breadcrumbing',
    'breakdancing', 'brush painting', 'brushing hair', 'brushing teeth', 'building cabinet',
    'building shed', 'bungee jumping', 'busking', 'canoeing or kayaking', 'capoeira',
    'carrying baby', 'cartwheeling', 'carving pumpkin', 'catching fish',
    'catching or throwing baseball', 'catching or throwing frisbee',
]
PASSES = ('eval', 'train forward', 'train forward+backward')
SCORINGS = ('mug', 'global')


def class_names(label_map: Optional[str], count: int) -> List[str]:
    """``count`` bare class names: from the label map (its first ``count``), or the
    built-in K400 sample repeated."""
    from mmstan.models.heads import read_class_names
    if label_map:
        names = read_class_names(label_map)
        return (names * (count // len(names) + 1))[:count]
    return [K400_SAMPLE[i % len(K400_SAMPLE)] for i in range(count)]


def build_heads(names: Sequence[str], dim: int, context_length: int, device: str) -> dict:
    """``{'mug': head, 'global': head}`` on one CLIP of embedding width ``dim``, their
    class embeddings encoded (outside any timing)."""
    import torch

    from mmstan.models.clip import load_clip
    from mmstan.models.heads import TextClassHead

    arch = dict(embed_dim=dim,
                vision_cfg=dict(image_size=32, patch_size=16, width=64, layers=1, head_width=32),
                text_cfg=dict(context_length=max(context_length, 32), vocab_size=49408, width=64,
                              heads=2, layers=1))
    torch.manual_seed(0)
    clip = load_clip(arch)
    heads = {}
    for scoring in SCORINGS:
        head = TextClassHead(list(names), clip_model=clip, context_length=context_length,
                             scoring=scoring).to(device).train()
        head.class_embeddings  # noqa: B018  (encode the names once, before timing)
        heads[scoring] = head
    return heads


def _pass(head, x, labels, kind: str) -> Callable[[], None]:
    import torch
    import torch.nn.functional as F

    def run() -> None:
        if kind == 'eval':
            with torch.no_grad():
                head(x)
            return
        inputs = x.detach().requires_grad_()
        logits = head(inputs)
        if kind == 'train forward+backward':
            F.cross_entropy(logits, labels).backward()
    return run


def measure(heads: dict, batch: int, frames: int, dim: int, repeats: int,
            device: str) -> List[dict]:
    """Median seconds of each pass kind and scoring, Mug and global alternating."""
    import torch
    cuda = device.startswith('cuda')
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, frames, dim, generator=g).to(device)
    labels = torch.randint(heads['mug'].num_classes, (batch,), generator=g).to(device)
    results = []
    for kind in PASSES:
        runs = {s: _pass(heads[s], x, labels, kind) for s in SCORINGS}
        times: Dict[str, List[float]] = {s: [] for s in SCORINGS}
        for s in SCORINGS:   # warm-up: allocator, kernels, lazy init
            runs[s]()
        for _ in range(repeats):
            for s in SCORINGS:
                if cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
                runs[s]()
                if cuda:
                    torch.cuda.synchronize()
                times[s].append(time.perf_counter() - start)
        mug, glob = (statistics.median(times[s]) for s in SCORINGS)
        results.append(dict(kind=kind, mug_s=mug, global_s=glob, ratio=mug / glob))
    return results


