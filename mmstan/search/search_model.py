"""A retrieval model as the search uses it: a config's ``VideoTextRetriever`` with its
checkpoint, the config's own test-time video pipeline (frames sampled exactly as
``tools/test.py`` samples them) and its caption tokenizer.

Built on :mod:`mmstan.apis` (``init_model``, ``encode_videos``, ``encode_texts``,
``score``), the same calls as the demos.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from torch import Tensor, nn

from mmstan import apis
from mmstan.apis.checkpoint import checkpoint_file
from mmstan.apis.pipelines import video_pipeline
from mmstan.apis.retrieval import build_pipeline, load_video
from mmstan.errors import UserError
from mmstan.utils.download import file_sha256


def video_pipeline_config(cfg: Config) -> List[dict]:
    """The test pipeline of ``cfg`` without its caption steps, packing only ``imgs``."""
    return video_pipeline(cfg)


def config_sha256(cfg: Config) -> str:
    """Hash of the model and test pipeline settings (what the embeddings depend on)."""
    text = json.dumps([cfg.model.to_dict(), video_pipeline_config(cfg)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class SearchModel:
    """Encodes videos and captions, and scores them with the model's head.

    Args:
        model: a ``VideoTextRetriever`` (anything with ``encode_video``,
            ``encode_text``, ``score``, ``head`` and ``data_preprocessor``).
        cfg: its config (test pipeline and caption pipeline are read from it).
        device: where the model runs.
    """

    def __init__(self, model: nn.Module, cfg: Config, device: Union[str, torch.device] = 'cpu'):
        self.model = model.to(device).eval()
        self.model.cfg = cfg
        self.cfg = cfg
        self.device = torch.device(device)
        self.video_pipeline = build_pipeline(cfg, video_pipeline_config(cfg))

    @classmethod
    def from_config(cls, cfg: Config, checkpoint: str,
                    device: Union[str, torch.device] = 'cpu') -> 'SearchModel':
        """Build ``cfg.model`` and load every weight from ``checkpoint`` (path or URL)."""
        model_type = cfg.model.get('type', '')
        if str(model_type).split('.')[-1] != 'VideoTextRetriever':
            raise UserError(f'{cfg.filename} builds a {model_type}; tools/search.py '
                            'needs a VideoTextRetriever config (configs/mugstan/msrvtt.py, ...)')
        return cls(apis.init_model(cfg, checkpoint, device), cfg, device)

    @property
    def head(self) -> nn.Module:
        return self.model.head

    @property
    def embed_dim(self) -> int:
        return int(self.model.text_encoder.embed_dim)

    def gallery_scores(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """Exact ``[M, N]`` scores of every caption with every video, by the model's own
        head in bounded memory (``VideoTextRetriever.score``)."""
        return apis.score(self.model, (pooled, tokens, mask), frames)

    def load_video(self, path: str) -> dict:
        """Decode and pack one video with the test pipeline (raises on unreadable files)."""
        return load_video(self.video_pipeline, path)

    def encode_videos(self, packed: Sequence[dict]) -> Tensor:
        """Packed samples from :meth:`load_video` -> frame embeddings ``[B, T, E]`` (CPU)."""
        return apis.encode_videos(self.model, list(packed), batch_size=max(len(packed), 1))

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> Tuple[Tensor, Tensor, Tensor]:
        """Captions -> ``(tokens [M, K, E], mask [M, K], pooled [M, E])`` on the CPU."""
        pooled, tokens, mask = apis.encode_texts(self.model, list(texts), batch_size)
        return tokens, mask, pooled


def checkpoint_path(checkpoint: str) -> str:
    """Local path of ``checkpoint`` (URLs are fetched once into the cache)."""
    return checkpoint_file(checkpoint, hint='give a .pth file saved by tools/train.py (or a URL)')


def checkpoint_identity(checkpoint: str, known: Optional[Dict[str, object]] = None) -> Dict[str, object]:
    """``{path, size, mtime, sha256}`` of a checkpoint; the hash is reused from ``known``
    (an earlier identity) when path, size and modification time are unchanged."""
    path = osp.abspath(checkpoint_path(checkpoint))
    stat = os.stat(path)
    ident: Dict[str, object] = dict(path=path, size=stat.st_size, mtime=stat.st_mtime)
    if known and all(known.get(k) == ident[k] for k in ('path', 'size', 'mtime')):
        ident['sha256'] = known['sha256']
    else:
        ident['sha256'] = file_sha256(path)
    return ident
