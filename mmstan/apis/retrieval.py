"""Video-text retrieval with a model from :func:`~mmstan.apis.init_model`: encode each
video and each caption once, then score any captions against any videos with the
model's own head (Mug for Mug-STAN), as ``tools/test.py`` and ``tools/search.py`` do::

    model = init_model('configs/mugstan/msrvtt.py', 'epoch_5.pth')
    frames = encode_videos(model, ['a.mp4', 'b.mp4'])      # [2, T, E]
    text = encode_texts(model, ['a dog runs', 'a man cooks'])
    scores = score(model, text, frames)                    # [2 captions, 2 videos]

Videos go through the config's test pipeline, captions through its caption pipeline
(:mod:`mmstan.apis.pipelines`). Results are float tensors on the CPU.
"""
import os
from typing import Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from torch import Tensor, nn

from mmstan.apis.pipelines import caption_pipeline, video_pipeline
from mmstan.errors import UserError
from mmstan.utils.paths import require_file

#: ``encode_texts``' output, what ``score`` takes: ``(pooled [M, E], tokens [M, K, E], mask [M, K])``.
TextFeatures = Tuple[Tensor, Tensor, Tensor]


def retriever_config(model: nn.Module) -> Config:
    """The config of a video-text retriever built by ``init_model`` (its ``cfg``)."""
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise UserError(f'this {type(model).__name__} has no `cfg`: build it with mmstan.apis.init_model')
    if not all(hasattr(model, name) for name in ('encode_video', 'encode_text', 'score')):
        raise UserError(f'{cfg.filename} builds a {type(model).__name__}, not a video-text retrieval '
                        'model (VideoTextRetriever); for recognition use mmstan.apis.recognize')
    return cfg


def build_pipeline(cfg: Config, steps: Sequence[dict]) -> Compose:
    """``steps`` as a pipeline, built in the config's registry scope."""
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmaction')):
        return Compose([dict(step) for step in steps])


def load_video(pipeline: Compose, path: str) -> dict:
    """One video file through a :func:`video_pipeline`: the packed sample ``encode_videos``
    takes (raises on a missing or unreadable file)."""
    require_file(path, 'video', 'give a video file (mp4, avi, webm, ...)')
    return pipeline(dict(filename=path, start_index=0, modality='RGB'))


@torch.no_grad()
def encode_videos(model: nn.Module, videos: Sequence[Union[str, dict]], batch_size: int = 8) -> Tensor:
    """Video files (or samples from :func:`load_video`) -> ``[N, T, E]`` frame features
    (``model.encode_video``'s output, what :func:`score` takes)."""
    cfg = retriever_config(model)
    pipeline = None
    out = []
    for start in range(0, len(videos), batch_size):
        packed = []
        for video in videos[start:start + batch_size]:
            if isinstance(video, (str, os.PathLike)):
                pipeline = pipeline or build_pipeline(cfg, video_pipeline(cfg))
                video = load_video(pipeline, os.fspath(video))
            packed.append(video)
        data = model.data_preprocessor(pseudo_collate(packed), False)
        out.append(model.encode_video(data['inputs']['imgs']).float().cpu())
    if not out:
        raise ValueError('no video to encode')
    return torch.cat(out)


@torch.no_grad()
def encode_texts(model: nn.Module, captions: Sequence[str], batch_size: int = 256) -> TextFeatures:
    """Captions -> ``(pooled [M, E], tokens [M, K, E], mask [M, K])`` (``model.encode_text``'s
    output, what :func:`score` takes), tokenized as the config's test loop tokenizes them."""
    cfg = retriever_config(model)
    default_length = getattr(getattr(model, 'text_encoder', None), 'context_length', 77)
    pipeline = build_pipeline(cfg, caption_pipeline(cfg, default_length))
    out = []
    for start in range(0, len(captions), batch_size):
        packed = [pipeline(dict(text=text, caption_index=start + i))
                  for i, text in enumerate(captions[start:start + batch_size])]
        data = model.data_preprocessor(pseudo_collate(packed), False)
        pooled, tokens, mask = model.encode_text(data['inputs']['text'])
        out.append((pooled.float().cpu(), tokens.float().cpu(), mask.cpu()))
    if not out:
        raise ValueError('no text to encode')
    return tuple(torch.cat(parts) for parts in zip(*out))  # type: ignore[return-value]


@torch.no_grad()
def score(model: nn.Module, text: TextFeatures, frames: Tensor) -> Tensor:
    """``[M, N]`` scores of M captions (:func:`encode_texts`) with N videos
    (:func:`encode_videos`) by the model's own head (``model.score``: bounded memory)."""
    retriever_config(model)
    device = next(model.parameters()).device
    return model.score(tuple(x.to(device) for x in text), frames.to(device)).float().cpu()
