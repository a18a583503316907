"""CLIP text-transformer layers re-used on sequences of frame embeddings.

CLIP4Clip's sequence transformer and CLIP2Video's temporal transformers start from the
first layers of CLIP's text transformer, and their frame position embeddings from the
text position embedding ([C2V] §4.1: "reuse parameters of similar dimensions in CLIP").
The layers run on frame embeddings ``[B, T, E]`` of CLIP's joint space, so the text
width must equal the joint embedding width E (true for ViT-B/32, B/16, L/14, H/14).
"""
import copy

from mmengine.logging import print_log
from torch import Tensor, nn

from mmstan.errors import UserError


def text_joint_width(text_tower: nn.Module, owner: str) -> int:
    """Width of ``text_tower`` (an open_clip ``TextTransformer``), checked to equal its
    joint embedding width (the frame embeddings' width)."""
    width = text_tower.positional_embedding.shape[1]
    projection = text_tower.text_projection
    joint = (width if projection is None else projection.out_features
             if isinstance(projection, nn.Linear) else projection.shape[1])
    if joint != width:
        raise UserError(f'{owner}: the CLIP text layers are {width} wide but the joint '
                        f'embedding is {joint}, so they cannot run on frame embeddings; use '
                        'a CLIP whose text width equals its embed_dim (ViT-B-32, ViT-B-16, '
                        'ViT-L-14)')
    return width


def text_positions(text_tower: nn.Module) -> nn.Parameter:
    """A trainable copy of the text position embedding ``[context_length, E]``."""
    return nn.Parameter(text_tower.positional_embedding.detach().clone())


class TextLayers(nn.Module):
    """Trainable copies of the first ``num_layers`` layers of a CLIP text transformer,
    run without a mask (every frame attends to every frame).

    Args:
        text_tower: open_clip ``TextTransformer`` (``CLIPText.text``); nothing of it is
            kept, its layers are copied.
        num_layers: layers to copy; when the tower has fewer, the extra layers are copies
            of its last layer with their parameters re-initialised (logged).
        owner: name used in messages.

    Forward: ``[B, L, E] -> [B, L, E]``.
    """

    def __init__(self, text_tower: nn.Module, num_layers: int, owner: str = 'TextLayers'):
        super().__init__()
        source = text_tower.transformer.resblocks
        if num_layers < 1:
            raise UserError(f'{owner}: num_layers must be at least 1, got {num_layers}')
        blocks = [copy.deepcopy(source[i]) for i in range(min(num_layers, len(source)))]
        if num_layers > len(source):
            print_log(f'{owner}: the CLIP text tower has {len(source)} layers; layers '
                      f'{len(source)}..{num_layers - 1} start from random weights',
                      logger='current')
            for _ in range(num_layers - len(source)):
                blocks.append(_reinitialised(copy.deepcopy(source[-1])))
        self.blocks = nn.ModuleList(blocks).requires_grad_(True)  # the text tower may be frozen
        self.batch_first = getattr(text_tower.transformer, 'batch_first', True)

    def forward(self, x: Tensor) -> Tensor:
        if not self.batch_first:
            x = x.transpose(0, 1)
        for block in self.blocks:
            x = block(x)
        return x if self.batch_first else x.transpose(0, 1)


def _reinitialised(block: nn.Module) -> nn.Module:
    for module in block.modules():
        reset = (getattr(module, 'reset_parameters', None)
                 or getattr(module, '_reset_parameters', None))  # nn.MultiheadAttention
        if module is not block and reset is not None:
            reset()
    return block
