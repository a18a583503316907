"""Classify videos by similarity to their class names' CLIP text embeddings ([M] eq. 20)."""
import os
from typing import List, Optional, Sequence, Union

import open_clip
import torch
import torch.nn.functional as F
from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS
from torch import Tensor

from mmstan.errors import UserError

from ..clip.text import CLIPText
from ..clip.weights import ArchType, read_state_dict


def read_class_names(classes: Union[str, Sequence[str]]) -> List[str]:
    """Class names from a list, or from a label-map file (one name per line; a leading
    integer id, as in some label maps, is dropped)."""
    if not isinstance(classes, str):
        return list(classes)
    if not os.path.isfile(classes):
        raise UserError(f'label map not found: {classes}; set `classes` to the dataset\'s '
                        'label map file (README "Datasets") or to a list of class names')
    names = []
    with open(classes) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            head, _, rest = line.partition(' ')
            names.append(rest if head.isdigit() and rest else line)
    return names


def load_text_encoder(text: CLIPText, path: str) -> None:
    """Load the ``text_encoder.*`` weights of an mmstan checkpoint into ``text``."""
    state = read_state_dict(path, 'train or download it, or set text_weights=None')
    prefix = 'text_encoder.'
    text_state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not text_state:
        raise UserError(f'{path} has no text_encoder.* weights (is it a VideoTextRetriever '
                        'checkpoint?)')
    text.load_state_dict(text_state, strict=True)


@MODELS.register_module()
class TextClassHead(BaseHead):
    """Mug-STAN recognition head: logits = tau * cos(video, text(class name)).

    The text tower (frozen, [M] §IV-B) encodes the bare class names (no prompt template)
    once, at construction; only the resulting ``[N, E]`` class embeddings are kept.

    Args:
        classes: class names, or a label-map file.
        arch, pretrained: the CLIP model whose text tower encodes the names (the same as
            the video backbone's).
        tau: logit scale (CLIP's 100).
        text_weights: an mmstan checkpoint (e.g. of a post-pretrained ``VideoTextRetriever``)
            whose ``text_encoder.*`` weights replace ``pretrained``'s text tower (zero-shot
            recognition after post-pretraining).
        context_length: text length the names are tokenized to.
        **kwargs: mmaction2 ``BaseHead`` arguments (loss_cls, topk, average_clips).

    Forward: ``[N, T, E]`` frame embeddings (or ``[N, E]``) -> ``[N, num_classes]``.
    """

    def __init__(self, classes: Union[str, Sequence[str]], arch: ArchType = 'ViT-B-16',
                 pretrained: Optional[str] = None, tau: float = 100.0, context_length: int = 32,
                 text_weights: Optional[str] = None, **kwargs):
        names = read_class_names(classes)
        text = CLIPText(arch, pretrained, frozen_layers=-1).eval()
        if text_weights is not None:
            load_text_encoder(text, text_weights)
        tokens = open_clip.tokenize(names, context_length=min(context_length, text.context_length))
        with torch.no_grad():
            pooled, _, _ = text(tokens)
        super().__init__(num_classes=len(names), in_channels=pooled.shape[1], **kwargs)
        self.class_names = names
        self.tau = tau
        self.register_buffer('class_embeddings', F.normalize(pooled, dim=-1))

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        if x.dim() == 3:
            x = x.mean(dim=1)
        return self.tau * F.normalize(x, dim=-1) @ self.class_embeddings.T
