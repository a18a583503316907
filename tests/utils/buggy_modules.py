"""Test-only modules, imported through ``custom_imports`` by tests/utils/test_cli.py.

``BuggyBackbone`` builds fine from its config, then fails inside the training
iteration: the tools must show that bug's traceback, not a one-line ``error:``.
"""
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn

#: A file no user names anywhere: the ``'file'`` bug opens it.
MISSING_INTERNAL_FILE = '/nonexistent-mmstan-test-dir/internal_stats.json'


@MODELS.register_module()
class BuggyBackbone(nn.Module):
    """``[B, 3, T, H, W] -> [B, T, E]`` were it not for ``bug``.

    Args:
        bug: ``'type'``: forward calls ``F.relu`` with a keyword it does not take (the
            keyword is also one of this class's config keys); ``'file'``: forward opens a
            file that does not exist.
    """

    def __init__(self, bug: str = 'type', embed_dim: int = 64):
        super().__init__()
        self.bug = bug
        self.proj = nn.Linear(3, embed_dim)

    def forward(self, video: Tensor) -> Tensor:
        frames = self.proj(video.mean(dim=(3, 4)).transpose(1, 2))
        if self.bug == 'file':
            with open(MISSING_INTERNAL_FILE):
                pass
        return F.relu(frames, bug=self.bug)
