"""Classify videos by their class names' CLIP text embeddings ([M] eq. 20): Mug of each
class name's tokens against the clip's frames, or the global cosine."""
import re
from typing import List, Optional, Sequence, Tuple, Union

import open_clip
import torch
import torch.nn.functional as F
from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS
from torch import Tensor, nn

from mmstan.utils.paths import require_file

from ..clip import CLIPText, shared_or_new_clip
from ..clip.weights import ArchType
from ..precision import float32_region, upcast
from .mug_head import MugHead

#: ``TextClassHead(scoring=...)``: the readings of eq. 20 (see the class).
SCORINGS = ('mug', 'global')


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


def class_name_text(name: str) -> str:
    """The words the text tower reads for a label-map name.

    One rule: a name without spaces is an identifier (HMDB51's ``brush_hair``, UCF101's
    ``ApplyEyeMakeup``): underscores and hyphens become spaces, a lower-case letter or
    digit followed by a capital starts a new word (so does the last capital of a run of
    capitals followed by a lower-case letter), and the words are lower-cased:
    ``brush hair``, ``apply eye makeup``. A name with spaces is already words (K400's
    ``passing American football (in game)``, SSv2's templates) and is read as written.
    """
    if ' ' in name.strip():
        return name.strip()
    words = re.sub(r'[_\-]+', ' ', name.strip())
    words = re.sub(r'(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])', ' ', words)
    return ' '.join(words.lower().split())


@MODELS.register_module()
class TextClassHead(BaseHead):
    """Mug-STAN recognition head ([M] eq. 20): one logit per class name, scored against
    the clip's frames.

    Eq. 20 is ``L_cr = -Σ_n y_n log softmax_n(τ ṽ·c̃_n)``: "we compute the loss with ṽ and
    c̃", the outputs of Mug (eqs. 11-18), yet ṽ carries no class index although under Mug
    it depends on the text it is paired with, and the where-clause calls ``c_n`` "the value
    of class n in global text embedding". ``scoring`` picks the reading:

    - ``'mug'`` (default; the Mug-STAN recognition and zero-shot configs): the reading
      closest to the text. The tildes are eqs. 11-18's outputs, so each class name's
      tokens ``c_{n,j}`` play the caption in Mug against the clip's frames ``v_i``: ṽ
      then depends on the class (``ṽ_n``), and ``logit_n = τ c̃_n·ṽ_n``. The class names
      are a gallery of texts scored by the retrieval head's own Mug
      (:class:`~mmstan.models.heads.mug_head.MugHead`, ``mode='mug'``), with the softmax
      temperature inside Mug equal to the logit scale ``tau`` ([M] §III-C: Mug's τ is
      CLIP's logit scale).
    - ``'global'``: the reading without Mug, CLIP's zero-shot classifier: ``logit_n =
      τ cos(mean_i v_i, c_n)`` with ``c_n`` the class name's pooled ([EOT]) embedding and
      the mean of the frames as the global video embedding ([M] §III-A's global v and c).

    The text tower is frozen ([M] §III-D) and encodes the bare class names (no prompt
    template), as words: label-map identifiers such as ``brush_hair`` or
    ``ApplyEyeMakeup`` are read as ``brush hair`` and ``apply eye makeup``
    (:func:`class_name_text`; class order and ``class_names`` stay as written). Their
    pooled ``[C, E]`` and per-token ``[C, K, E]`` embeddings are computed
    together on first use and kept until the tower's weights are loaded again, so a
    checkpoint's text tower always gives the class embeddings (the text weights are part
    of the checkpoint, as ``cls_head.text_encoder``).

    Args:
        classes: class names, or a label-map file.
        arch, pretrained: the CLIP whose text tower encodes the names, when the head is
            used on its own; inside ``CLIPRecognizer`` the recognizer's one CLIP is used
            (``clip_model``) and these stay unset.
        tau: logit scale (CLIP's 100); with ``scoring='mug'`` also Mug's softmax
            temperature.
        context_length: text length the names are tokenized to.
        clip_model: the enclosing model's open_clip model.
        scoring: ``'mug'`` or ``'global'`` (see above).
        block_elements: Mug's block size (``MugHead.block_elements``; None: its default).
        **kwargs: mmaction2 ``BaseHead`` arguments (loss_cls, topk, average_clips).

    Forward: ``[N, T, E]`` frame embeddings (or ``[N, E]``, one frame) ->
    ``[N, num_classes]`` logits. Each clip (each view of a multi-view test) is scored on
    its own, so mmaction2's ``average_clips`` works as with any head.
    """

    def __init__(self, classes: Union[str, Sequence[str]], arch: Optional[ArchType] = None,
                 pretrained: Optional[str] = None, tau: float = 100.0, context_length: int = 32,
                 clip_model: Optional[nn.Module] = None, scoring: str = 'mug',
                 block_elements: Optional[int] = None, **kwargs):
        if scoring not in SCORINGS:
            raise ValueError(f'TextClassHead: scoring must be one of {SCORINGS}, got {scoring!r}')
        names = read_class_names(classes)
        text = CLIPText(shared_or_new_clip(arch, pretrained, clip_model, 'TextClassHead'),
                        frozen_layers=-1)
        super().__init__(num_classes=len(names), in_channels=text.embed_dim, **kwargs)
        self.text_encoder = text
        self.class_names = names
        self.tau = tau
        self.scoring = scoring
        # parameter-free: the state dict is the same for both scorings
        self.mug = MugHead('mug', tau=tau, block_elements=block_elements) \
            if scoring == 'mug' else None
        tokens = open_clip.tokenize([class_name_text(n) for n in names],
                                    context_length=min(context_length, text.context_length))
        self.register_buffer('class_tokens', tokens, persistent=False)
        self.register_buffer('_class_embeddings', None, persistent=False)
        self.register_buffer('_class_token_embeddings', None, persistent=False)
        self.register_buffer('_class_token_mask', None, persistent=False)

    def train(self, mode: bool = True) -> 'TextClassHead':
        super().train(mode)
        self.text_encoder.eval()  # frozen: no dropout, no drop-path, whatever the mode
        return self

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._forget_class_embeddings()  # new text weights: encode the names again
        super()._load_from_state_dict(*args, **kwargs)

    def _forget_class_embeddings(self) -> None:
        self._class_embeddings = None
        self._class_token_embeddings = None
        self._class_token_mask = None

    def _encode_class_names(self) -> None:
        """Fill the caches: pooled ``[C, E]``, tokens ``[C, L, E]`` and mask ``[C, L]``,
        all from one pass of the frozen tower, in its own precision (not autocast's);
        ``L`` is the longest name's token count (CLIP's tokens are a prefix, the rest is
        padding that Mug never reads)."""
        with torch.no_grad(), torch.autocast(self.class_tokens.device.type, enabled=False):
            pooled, tokens, mask = self.text_encoder(self.class_tokens)
        length = int(mask.sum(1).max())
        self._class_embeddings = F.normalize(pooled, dim=-1)
        self._class_token_embeddings = F.normalize(tokens[:, :length], dim=-1)
        self._class_token_mask = mask[:, :length]

    @property
    def class_embeddings(self) -> Tensor:
        """``[num_classes, E]`` L2-normalised pooled text embeddings of the class names."""
        if self._class_embeddings is None:
            self._encode_class_names()
        return self._class_embeddings

    @property
    def class_token_embeddings(self) -> Tuple[Tensor, Tensor]:
        """``([num_classes, L, E], [num_classes, L])``: the class names' L2-normalised
        per-token embeddings and their mask (True on real tokens, [SOT] and [EOT]
        included, as for retrieval captions)."""
        if self._class_token_embeddings is None:
            self._encode_class_names()
        return self._class_token_embeddings, self._class_token_mask

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        """``[N, T, E]`` (or ``[N, E]``) video embeddings -> ``[N, num_classes]`` logits,
        float32 under mixed precision too (scored with autocast off)."""
        frames = upcast(x if x.dim() == 3 else x[:, None])
        with float32_region(frames):
            if self.scoring == 'global':
                video = F.normalize(frames.mean(dim=1), dim=-1)
                return self.tau * video @ self.class_embeddings.T
            tokens, mask = self.class_token_embeddings
            scores = self.mug(tokens, mask, self.class_embeddings, frames)   # [C, N]: c~_n · v~_n
            return self.tau * scores.T
