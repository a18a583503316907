"""A retrieval model as the search uses it: a config's ``VideoTextRetriever`` with its
checkpoint, the config's own test-time video pipeline (frames sampled exactly as
``tools/test.py`` samples them) and its caption tokenizer.

Built on the retriever's public ``encode_video`` / ``encode_text`` / ``head``.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from torch import Tensor, nn

from mmstan.errors import UserError
from mmstan.utils.download import file_sha256, load_checkpoint_file, resolve_checkpoint
from mmstan.utils.paths import require_file

#: Pipeline steps that deal with captions, dropped from the video pipeline.
_TEXT_STEPS = ('OpenCLIPTokenize',)


def _step_type(step: dict) -> str:
    return str(step['type']).split('.')[-1]


def video_pipeline_config(cfg: Config) -> List[dict]:
    """The test pipeline of ``cfg`` without its caption steps, packing only ``imgs``."""
    pipeline = cfg.get('test_pipeline') or cfg.test_dataloader.dataset.pipeline
    steps = []
    for step in pipeline:
        step = dict(step)
        if _step_type(step) in _TEXT_STEPS:
            continue
        if _step_type(step) == 'PackActionInputs':
            step['collect_keys'] = ('imgs',)
        steps.append(step)
    if not any(_step_type(s) == 'PackActionInputs' for s in steps):
        raise UserError(f'{cfg.filename}: the test pipeline has no PackActionInputs step; '
                        'use a retrieval config (configs/mugstan/*.py, configs/stan/msrvtt.py, ...)')
    return steps


def context_length(cfg: Config, default: int) -> int:
    """Caption length of the config's tokenizer step (``default`` when it has none)."""
    pipeline = cfg.get('test_pipeline') or cfg.test_dataloader.dataset.pipeline
    for step in pipeline:
        if _step_type(step) == 'OpenCLIPTokenize':
            return int(step.get('context_length', default))
    return default


def config_sha256(cfg: Config) -> str:
    """Hash of the model and test pipeline settings (what the embeddings depend on)."""
    text = json.dumps([cfg.model.to_dict(), video_pipeline_config(cfg)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class SearchModel:
    """Encodes videos and captions, and scores them with the model's head.

    Args:
        model: a ``VideoTextRetriever`` (anything with ``encode_video``,
            ``encode_text``, ``head`` and ``data_preprocessor``), in eval mode.
        cfg: its config (test pipeline and tokenizer length are read from it).
        device: where the model runs.
    """

    def __init__(self, model: nn.Module, cfg: Config, device: Union[str, torch.device] = 'cpu'):
        self.model = model.to(device).eval()
        self.cfg = cfg
        self.device = torch.device(device)
        self.video_pipeline = Compose(video_pipeline_config(cfg))
        from mmstan.datasets.transforms.text import OpenCLIPTokenize

        self.tokenizer = OpenCLIPTokenize(
            context_length(cfg, model.text_encoder.context_length))

    @classmethod
    def from_config(cls, cfg: Config, checkpoint: str,
                    device: Union[str, torch.device] = 'cpu') -> 'SearchModel':
        """Build ``cfg.model`` and load every weight from ``checkpoint`` (path or URL)."""
        from mmaction.registry import MODELS
        from mmengine.registry import init_default_scope

        init_default_scope(cfg.get('default_scope', 'mmaction'))
        model_cfg = cfg.model.copy()
        if model_cfg.get('type', '').split('.')[-1] != 'VideoTextRetriever':
            raise UserError(f'{cfg.filename} builds a {model_cfg.get("type")}; tools/search.py '
                            'needs a VideoTextRetriever config (configs/mugstan/msrvtt.py, ...)')
        if isinstance(model_cfg.get('clip'), dict):
            model_cfg.clip = dict(model_cfg.clip, pretrained=None)  # the checkpoint has them
        model = MODELS.build(model_cfg)
        path = checkpoint_path(checkpoint)
        state = load_checkpoint_file(path)
        if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
            state = state['state_dict']
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise UserError(f'{checkpoint} does not fit the model of {cfg.filename}: '
                            f'{len(missing)} weights missing (e.g. {missing[:2]}), '
                            f'{len(unexpected)} unexpected (e.g. {unexpected[:2]}); give the '
                            'checkpoint trained with this config')
        return cls(model, cfg, device)

    @property
    def head(self) -> nn.Module:
        return self.model.head

    @property
    def embed_dim(self) -> int:
        return int(self.model.text_encoder.embed_dim)

    @torch.no_grad()
    def gallery_scores(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """Exact ``[M, N]`` scores of every caption with every video, by the model's own
        head in bounded memory (``VideoTextRetriever.score``)."""
        tokens, mask, pooled, frames = (x.to(self.device) for x in (tokens, mask, pooled, frames))
        score = getattr(self.model, 'score', None)
        if score is None:  # a retriever from before the encode / score API
            return self.model.head.gallery(tokens, mask, pooled, frames).cpu()
        return score((pooled, tokens, mask), frames).cpu()

    def load_video(self, path: str) -> dict:
        """Decode and pack one video with the test pipeline (raises on unreadable files)."""
        return self.video_pipeline(dict(filename=path, start_index=0, modality='RGB'))

    @torch.no_grad()
    def encode_videos(self, packed: Sequence[dict]) -> Tensor:
        """Packed samples from :meth:`load_video` -> frame embeddings ``[B, T, E]`` (CPU)."""
        data = self.model.data_preprocessor(pseudo_collate(list(packed)), False)
        return self.model.encode_video(data['inputs']['imgs']).float().cpu()

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> Tuple[Tensor, Tensor, Tensor]:
        """Captions -> ``(tokens [M, K, E], mask [M, K], pooled [M, E])`` on the CPU."""
        outs = []
        for i in range(0, len(texts), batch_size):
            ids = torch.stack([self.tokenizer(dict(text=t))['text'] for t in texts[i:i + batch_size]])
            pooled, tokens, mask = self.model.encode_text(ids.to(self.device))
            outs.append((tokens.float().cpu(), mask.cpu(), pooled.float().cpu()))
        if not outs:
            raise ValueError('no text to encode')
        return tuple(torch.cat(parts) for parts in zip(*outs))  # type: ignore[return-value]


def checkpoint_path(checkpoint: str) -> str:
    """Local path of ``checkpoint`` (URLs are fetched once into the cache)."""
    path = resolve_checkpoint(checkpoint)
    return require_file(path, 'checkpoint', 'give a .pth file saved by tools/train.py (or a URL)')


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
