"""Classify videos by similarity to their class names' CLIP text embeddings ([M] eq. 20)."""
from typing import List, Optional, Sequence, Union

import open_clip
import torch
import torch.nn.functional as F
from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS
from torch import Tensor, nn

from mmstan.utils.paths import require_file

from ..clip import CLIPText, shared_or_new_clip
from ..clip.weights import ArchType


def read_class_names(classes: Union[str, Sequence[str]]) -> List[str]:
    """Class names from a list, or from a label-map file (one name per line; a leading
    integer id, as in some label maps, is dropped)."""
    if not isinstance(classes, str):
        return list(classes)
    require_file(classes, 'label map', "set `classes` to the dataset's label map file "
                 '(README "Datasets") or to a list of class names')
    names = []
    with open(classes) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            head, _, rest = line.partition(' ')
            names.append(rest if head.isdigit() and rest else line)
    return names


@MODELS.register_module()
class TextClassHead(BaseHead):
    """Mug-STAN recognition head: logits = tau * cos(video, text(class name)).

    The text tower is frozen ([M] §IV-B) and encodes the bare class names (no prompt
    template). Their ``[N, E]`` embeddings are computed on first use and kept until the
    tower's weights are loaded again, so a checkpoint's text tower always gives the class
    embeddings (the text weights are part of the checkpoint, as ``cls_head.text_encoder``).

    Args:
        classes: class names, or a label-map file.
        arch, pretrained: the CLIP whose text tower encodes the names, when the head is
            used on its own; inside ``CLIPRecognizer`` the recognizer's one CLIP is used
            (``clip_model``) and these stay unset.
        tau: logit scale (CLIP's 100).
        context_length: text length the names are tokenized to.
        clip_model: the enclosing model's open_clip model.
        **kwargs: mmaction2 ``BaseHead`` arguments (loss_cls, topk, average_clips).

    Forward: ``[N, T, E]`` frame embeddings (or ``[N, E]``) -> ``[N, num_classes]``.
    """

    def __init__(self, classes: Union[str, Sequence[str]], arch: Optional[ArchType] = None,
                 pretrained: Optional[str] = None, tau: float = 100.0, context_length: int = 32,
                 clip_model: Optional[nn.Module] = None, **kwargs):
        names = read_class_names(classes)
        text = CLIPText(shared_or_new_clip(arch, pretrained, clip_model, 'TextClassHead'),
                        frozen_layers=-1)
        super().__init__(num_classes=len(names), in_channels=text.embed_dim, **kwargs)
        self.text_encoder = text
        self.class_names = names
        self.tau = tau
        tokens = open_clip.tokenize(names, context_length=min(context_length, text.context_length))
        self.register_buffer('class_tokens', tokens, persistent=False)
        self.register_buffer('_class_embeddings', None, persistent=False)

    def train(self, mode: bool = True) -> 'TextClassHead':
        super().train(mode)
        self.text_encoder.eval()  # frozen: no dropout, no drop-path, whatever the mode
        return self

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._class_embeddings = None  # new text weights: encode the names again
        super()._load_from_state_dict(*args, **kwargs)

    @property
    def class_embeddings(self) -> Tensor:
        """``[num_classes, E]`` L2-normalised text embeddings of the class names."""
        if self._class_embeddings is None:
            with torch.no_grad():
                pooled, _, _ = self.text_encoder(self.class_tokens)
            self._class_embeddings = F.normalize(pooled, dim=-1)
        return self._class_embeddings

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        if x.dim() == 3:
            x = x.mean(dim=1)
        return self.tau * F.normalize(x, dim=-1) @ self.class_embeddings.T
