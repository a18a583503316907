"""Inference helpers for the demos: one config + one checkpoint (path or URL) -> a model,
and a video file -> the inputs that model's test pipeline makes of it.

mmaction2's ``init_recognizer`` clears only ``model.backbone.pretrained``; mmstan models
also take weights through ``model.clip.pretrained`` (and a head's own ``pretrained``), so
every ``pretrained`` entry of the model config is cleared here: the checkpoint holds the
whole model and nothing else is fetched.
"""
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config
from torch import nn

from mmstan.errors import UserError
from mmstan.utils.download import load_checkpoint_file, resolve_checkpoint
from mmstan.utils.paths import require_file


def clear_pretrained(node) -> None:
    """Set every string ``pretrained`` entry of a nested config to None, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'pretrained' and isinstance(value, str):
                node[key] = None
            else:
                clear_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            clear_pretrained(item)


def read_model_state(checkpoint: str) -> dict:
    """The ``{name: tensor}`` weights of a checkpoint (path or http(s) URL), loaded with
    ``weights_only=True``; an mmengine checkpoint's ``state_dict`` is unwrapped."""
    path = resolve_checkpoint(checkpoint)
    require_file(path, 'checkpoint', 'give a checkpoint file or an http(s) URL')
    state = load_checkpoint_file(path)
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    if not isinstance(state, dict) or not state:
        raise UserError(f'{checkpoint} holds no state dict')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def init_model(cfg: Config, checkpoint: str, device: str = 'cpu') -> Tuple[nn.Module, List[str]]:
    """The config's model with ``checkpoint`` loaded, in eval mode on ``device``.

    Returns ``(model, missing)``: ``missing`` lists model weights the checkpoint lacks
    (they keep their initial values; the demos warn about them).

    Raises:
        UserError: missing file, or a checkpoint none of whose weights belong to the
            model (e.g. an official STAN file that was not converted).
    """
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    import mmstan  # noqa: F401  (registration)

    init_default_scope(cfg.get('default_scope', 'mmaction'))
    state = read_model_state(checkpoint)
    model_cfg = cfg.model.copy()
    clear_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected and len(unexpected) == len(state):
        raise UserError(f'{checkpoint} does not fit {cfg.filename}: none of its {len(state)} '
                        f'weights belong to the model (e.g. {unexpected[:2]}); official STAN '
                        'weights need tools/model_converters/ first')
    if unexpected:
        raise UserError(f'{checkpoint} has {len(unexpected)} weights {cfg.filename} has no '
                        f'place for (e.g. {unexpected[:3]}); is it the right config?')
    return model.to(device).eval(), list(missing)


def inference_pipeline(cfg: Config) -> list:
    """The pipeline the config tests with: the test dataset's (which leaf configs edit,
    e.g. the frame count), else a top-level ``test_pipeline``."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    pipeline = dataset.get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        raise UserError(f'{cfg.filename} has no test pipeline (test_dataloader.dataset.pipeline)')
    return list(pipeline)


def video_inputs(cfg: Config, videos: Sequence[str]) -> List[dict]:
    """Each video file through the config's test pipeline: one packed sample per video."""
    from mmaction.registry import TRANSFORMS
    from mmengine.dataset import Compose

    pipeline = Compose([TRANSFORMS.build(step) for step in inference_pipeline(cfg)])
    samples = []
    for video in videos:
        require_file(video, 'video', 'give a video file (mp4, avi, webm, ...)')
        samples.append(pipeline(dict(filename=video, label=-1, start_index=0, modality='RGB')))
    return samples


def caption_inputs(cfg: Config, captions: Sequence[str]) -> List[dict]:
    """Each caption through the test dataset's ``caption_pipeline`` (the one the retrieval
    test loop tokenizes captions with): one packed sample per caption."""
    from mmstan.datasets.caption_list import CaptionListDataset

    pipeline = cfg.test_dataloader.dataset.get('caption_pipeline') or cfg.get('caption_pipeline')
    if not pipeline:
        raise UserError(f'{cfg.filename} has no caption_pipeline (test_dataloader.dataset.'
                        'caption_pipeline): it is not a video-text retrieval config')
    dataset = CaptionListDataset(captions, list(pipeline))
    return [dataset[i] for i in range(len(dataset))]


def class_names(cfg: Config, label_map: Optional[str] = None) -> Optional[List[str]]:
    """Class names from ``label_map`` (one per line, an optional leading id), else from
    the model's class-name head (``cls_head.classes``), else None."""
    from mmstan.models.heads.text_class_head import read_class_names

    if label_map:
        return read_class_names(label_map)
    classes = cfg.model.get('cls_head', {}).get('classes')
    if isinstance(classes, str) or (classes and not isinstance(classes, str)):
        return read_class_names(classes)
    return None
