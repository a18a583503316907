"""open_clip text tower returning the pooled embedding and projected token embeddings.

Both kinds of open_clip model are served by open_clip's own ``TextTransformer`` and its
public ``forward_intermediates``: CoCa keeps one (``model.text``); a plain ``CLIP``
unpacks its text parts onto the model, so :func:`text_tower` hands those very modules
back to a ``TextTransformer`` shell. open_clip therefore does the embedding, the masks
(causal; CoCa's [CLS] padding mask) and the pooling, in every supported version.
"""
from typing import Tuple

import torch.nn.functional as F
from open_clip.transformer import TextTransformer
from torch import Tensor, nn

from .blocks import block_heads, block_width

#: Text parts a plain open_clip ``CLIP`` model carries as its own attributes.
_CLIP_TEXT_PARTS = ('token_embedding', 'positional_embedding', 'transformer', 'ln_final',
                    'text_projection', 'attn_mask')


def text_tower(model: nn.Module) -> nn.Module:
    """The ``TextTransformer`` of an open_clip CLIP or CoCa model (sharing its modules)."""
    if hasattr(model, 'text'):  # CoCa / CustomTextCLIP
        return model.text
    tower = TextTransformer(context_length=model.positional_embedding.shape[0], vocab_size=1,
                            width=8, heads=1, layers=1, output_dim=None)
    for part in _CLIP_TEXT_PARTS:
        setattr(tower, part, getattr(model, part))
    first = model.transformer.resblocks[0]
    tower.width, tower.heads = block_width(first), block_heads(first)
    tower.vocab_size = model.vocab_size
    tower.pool_type = model.text_pool_type
    tower.eos_id = getattr(model, 'text_eos_id', None)
    return tower


class CLIPText(nn.Module):
    """The text encoder of an open_clip CLIP or CoCa model.

    Args:
        clip_model: an open_clip CLIP or CoCa model; its text tower is taken (see
            :func:`text_tower`).
        frozen_layers: freeze the token/position embeddings and the first N transformer
            layers; -1 freezes the whole tower (final LN and projection included).

    Forward: tokens ``[B, K]`` (0 = padding) -> ``(pooled [B, E], tokens [B, K, E],
    mask [B, K])``: ``pooled`` is open_clip's text embedding (EOT token for CLIP, the
    appended [CLS] for CoCa); ``tokens`` are every position's last-layer output after
    the final LN and the text projection (Mug-STAN's token-wise text embeddings);
    ``mask`` is True on real (non-padding) tokens.
    """

    def __init__(self, clip_model: nn.Module, frozen_layers: int = 0):
        super().__init__()
        self.text = tower = text_tower(clip_model)
        self.context_length = tower.context_length
        projection = tower.text_projection
        self.embed_dim = (projection.out_features if isinstance(projection, nn.Linear)
                          else tower.width if projection is None else projection.shape[1])
        blocks = tower.transformer.resblocks
        if frozen_layers < 0:
            tower.requires_grad_(False)
        elif frozen_layers > 0:
            for part in (tower.token_embedding, tower.positional_embedding, tower.cls_emb,
                         *blocks[:frozen_layers]):
                if part is not None:
                    part.requires_grad_(False)

    def _project(self, x: Tensor) -> Tensor:
        projection = self.text.text_projection
        if projection is None:
            return x
        if isinstance(projection, nn.Linear):
            return projection(x)
        return x @ projection

    def forward(self, text: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        assert text.dim() == 2, f'expected [B, K] token ids, got {tuple(text.shape)}'
        k = text.shape[1]
        assert k <= self.context_length, f'{k} tokens, but the text tower takes at most {self.context_length}'
        ids = text
        if self.text.cls_emb is None and k < self.context_length:
            # a plain CLIP tower takes exactly context_length tokens; its mask is causal, so
            # the first k outputs do not depend on the zero padding appended here
            ids = F.pad(text, (0, self.context_length - k))
        out = self.text.forward_intermediates(ids, indices=1, normalize_intermediates=True,
                                              output_fmt='NLC')
        tokens = self._project(out['text_intermediates'][0][:, :k])
        return out['text_features'], tokens, text != 0
