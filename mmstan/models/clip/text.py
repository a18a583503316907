"""open_clip text tower returning the pooled (EOT) embedding and projected token embeddings."""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .weights import ArchType, load_clip


class CLIPText(nn.Module):
    """The text encoder of an open_clip CLIP or CoCa model.

    Args:
        arch: open_clip architecture name or custom config dict.
        pretrained: weights (see :func:`mmstan.models.clip.weights.load_clip`).
        frozen_layers: freeze the token/position embeddings and the first N transformer
            layers (-1: freeze everything).
        clip_model: an already built open_clip model to take the tower from.

    Forward: tokens ``[B, K]`` (0 = padding) -> ``(pooled [B, E], tokens [B, K, E],
    mask [B, K])`` where ``tokens`` are every position's embedding after the final LN and
    the text projection (Mug-STAN's token-wise text embeddings) and ``mask`` is True on
    real (non-padding) tokens.
    """

    def __init__(self, arch: ArchType = 'ViT-B-16', pretrained: Optional[str] = None,
                 frozen_layers: int = 0, clip_model: Optional[nn.Module] = None):
        super().__init__()
        model = clip_model if clip_model is not None else load_clip(arch, pretrained)
        tower = model.text if hasattr(model, 'text') else model  # CoCa keeps a TextTransformer
        self.token_embedding = tower.token_embedding
        self.positional_embedding = tower.positional_embedding
        self.transformer = tower.transformer
        self.ln_final = tower.ln_final
        self.text_projection = tower.text_projection
        self.cls_emb = getattr(tower, 'cls_emb', None)  # CoCa appends a [CLS] and pools it
        self.register_buffer('attn_mask', tower.attn_mask, persistent=False)
        self.context_length = self.positional_embedding.shape[0] - (self.cls_emb is not None)
        self.frozen_layers = len(self.transformer.resblocks) if frozen_layers < 0 else frozen_layers
        self._freeze()

    def _freeze(self) -> None:
        if self.frozen_layers == 0:
            return
        frozen = [self.token_embedding, *self.transformer.resblocks[:self.frozen_layers]]
        for module in frozen:
            module.requires_grad_(False)
        self.positional_embedding.requires_grad_(False)
        if self.frozen_layers == len(self.transformer.resblocks):
            for part in (self.ln_final, self.text_projection, self.cls_emb):
                if isinstance(part, nn.Module):
                    part.requires_grad_(False)
                elif isinstance(part, nn.Parameter):
                    part.requires_grad_(False)

    def _project(self, x: Tensor) -> Tensor:
        if self.text_projection is None:
            return x
        if isinstance(self.text_projection, nn.Linear):
            return self.text_projection(x)
        return x @ self.text_projection

    def forward(self, text: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        assert text.dim() == 2, f'expected [B, K] token ids, got {tuple(text.shape)}'
        b, k = text.shape
        x = self.token_embedding(text)
        seq = k
        if self.cls_emb is not None:
            x = torch.cat([x, self.cls_emb.expand(b, 1, -1).to(x.dtype)], dim=1)
            seq += 1
        x = x + self.positional_embedding[:seq].to(x.dtype)
        mask = self.attn_mask[:seq, :seq] if self.attn_mask is not None else None
        for index, block in enumerate(self.transformer.resblocks):
            if index < self.frozen_layers:
                with torch.no_grad():
                    x = block(x, attn_mask=mask)
            else:
                x = block(x, attn_mask=mask)
        if self.cls_emb is not None:
            pooled = self.ln_final(x[:, -1])
            tokens = self.ln_final(x[:, :-1])
        else:
            x = self.ln_final(x)
            pooled = x[torch.arange(b, device=x.device), text.argmax(dim=-1)]  # EOT has the max id
            tokens = x
        return self._project(pooled), self._project(tokens), text != 0
