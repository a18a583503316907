"""How many LLM tokens a video takes in STAN-LLaVA, and whether it fits the context.

LLaVA-1.5 sees one 336 px image as a 24 x 24 grid of patch tokens (576), and its LLM
(Vicuna-1.5) has a 4096-token context. ``tools/analysis/chat_token_budget.py`` prints the
table of :func:`budget_table`.
"""
from typing import Iterable, List

#: LLaVA-1.5: 336 px / patch 14 = a 24 x 24 grid; the LLM's max_position_embeddings.
LLAVA15_GRID, LLAVA15_CONTEXT = 24, 4096


def tokens_per_frame(grid: int, spatial_pool: int = 1, cls: bool = False) -> int:
    """Patch tokens of one frame after ``spatial_pool x spatial_pool`` average pooling of
    its ``grid x grid`` patches (plus [CLS] with LLaVA's ``'full'`` strategy)."""
    return (grid // spatial_pool) ** 2 + int(cls)


def video_tokens(num_frames: int, grid: int, spatial_pool: int = 1, temporal_pool: int = 1,
                 cls: bool = False) -> int:
    """Tokens of a ``num_frames`` video: ``num_frames / temporal_pool`` groups of
    :func:`tokens_per_frame`."""
    return num_frames // temporal_pool * tokens_per_frame(grid, spatial_pool, cls)


def budget_table(frames: Iterable[int], pools: Iterable[int], text_tokens: int,
                 grid: int = LLAVA15_GRID, context: int = LLAVA15_CONTEXT,
                 temporal_pool: int = 1) -> List[str]:
    """Markdown rows: frames x spatial pooling -> video tokens, and what is left of the
    ``context`` for ``text_tokens`` of prompt and answer (``exceeds`` when nothing)."""
    pools = list(pools)
    head = ['frames'] + [f'pool {s}x{s} ({tokens_per_frame(grid, s)}/frame)' for s in pools]
    rows = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for t in frames:
        cells = [str(t)]
        for s in pools:
            n = video_tokens(t, grid, s, temporal_pool)
            left = context - n - text_tokens
            cells.append(f'{n} (' + (f'{left} left)' if left >= 0 else 'exceeds)'))
        rows.append('| ' + ' | '.join(cells) + ' |')
    return rows
