"""A list of captions as a dataset, for encoding captions apart from their videos (test-time
retrieval: each caption is tokenized and encoded once, each video once)."""
from typing import List, Sequence

from mmengine.dataset import Compose
from torch.utils.data import Dataset


class CaptionListDataset(Dataset):
    """Item ``i`` is ``pipeline(dict(text=captions[i], caption_index=i))``.

    Args:
        captions: the captions.
        pipeline: transforms for one caption, e.g.
            ``[dict(type='OpenCLIPTokenize', context_length=32),
            dict(type='PackActionInputs', collect_keys=('text',))]``.
    """

    def __init__(self, captions: Sequence[str], pipeline: List):
        self.captions = list(captions)
        self.pipeline = Compose(pipeline)

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, index: int):
        return self.pipeline(dict(text=self.captions[index], caption_index=index))
