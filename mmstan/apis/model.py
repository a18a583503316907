"""A config (+ a checkpoint) -> a model ready for inference, shaped like mmaction2's
``mmaction.apis.init_recognizer``."""
import copy
from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.config import Config
from torch import nn

from mmstan.apis.checkpoint import CHECKPOINT_HINT, load_weights, read_checkpoint

#: What an error says when a checkpoint does not fit the config's model.
FIT_HINT = ('give the checkpoint trained with this config (is it the right config?); official '
            'STAN / Mug-STAN weights need tools/model_converters/ first')


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


def _config(config: Union[str, Path, Config], cfg_options: Optional[dict]) -> Config:
    if isinstance(config, (str, Path)):
        from mmstan.utils.cli import load_config
        return load_config(str(config), cfg_options)
    if not isinstance(config, Config):
        raise TypeError(f'config must be a file name or an mmengine Config, got {type(config)}')
    cfg = copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def init_model(config: Union[str, Path, Config], checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu', cfg_options: Optional[dict] = None) -> nn.Module:
    """The config's model in eval mode on ``device``, with ``checkpoint``'s weights.

    Args:
        config: a config file or a :class:`~mmengine.config.Config` (not modified; the
            model's ``cfg`` attribute is the config used, ``cfg_options`` applied).
        checkpoint: a local file or an ``http(s)://`` URL (downloaded once, verified,
            read with ``weights_only=True``: :func:`~mmstan.apis.read_checkpoint`). It
            must give every weight of the model: the config's ``pretrained`` weights
            (CLIP, a class-name head's text tower) are then not loaded or downloaded.
            None: the model as the config builds it (``pretrained`` weights included).
        device: ``'cpu'``, ``'cuda:0'``, ...
        cfg_options: ``key=value`` overrides, as ``--cfg-options`` gives them.

    Raises:
        UserError: missing config or checkpoint, or a checkpoint that does not fit the
            model (one line naming the missing / unexpected weights).
    """
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    import mmstan  # noqa: F401  (registration)

    cfg = _config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model_cfg = copy.deepcopy(cfg.model)
    state = None
    if checkpoint is not None:
        state = read_checkpoint(checkpoint, hint=CHECKPOINT_HINT)  # before any build or download
        clear_pretrained(model_cfg)  # the checkpoint holds every weight
    model = MODELS.build(model_cfg)
    if state is not None:
        target = f'the model of {cfg.filename}' if cfg.filename else "the config's model"
        load_weights(model, state, checkpoint, target, FIT_HINT)
    model.cfg = cfg
    return model.to(device).eval()
