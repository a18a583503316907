"""mmaction2's ``Recognizer3D`` with one CLIP shared by the backbone and the head."""
from typing import Optional

from mmaction.models.recognizers import Recognizer3D
from mmaction.registry import MODELS

from ..clip import load_clip_from_config

#: A ``VideoTextRetriever`` checkpoint's text tower, and where it goes in a recognizer.
_RETRIEVER_TEXT, _HEAD_TEXT = 'text_encoder.', 'cls_head.text_encoder.'
#: Retriever-only entries with no place in a recognizer.
_RETRIEVER_ONLY = ('head.', 'log_logit_scale')


@MODELS.register_module()
class CLIPRecognizer(Recognizer3D):
    """Video recognizer whose backbone and class-name head share one open_clip model
    (Mug-STAN recognition, [M] eq. 20, and zero-shot recognition).

    Args:
        clip: ``dict(arch=..., pretrained=...)``, built once: its vision tower goes to the
            backbone (``CLIPSTAN`` / ``CLIPMeanPool``), its text tower to the head
            (``TextClassHead``); neither sets ``arch``/``pretrained`` itself.
        backbone, cls_head, data_preprocessor, train_cfg, test_cfg: as ``Recognizer3D``.

    It also loads a ``VideoTextRetriever`` checkpoint as it is: the retriever's
    ``text_encoder.*`` becomes ``cls_head.text_encoder.*`` and its similarity head is
    dropped, so ``tools/test.py configs/mugstan/zeroshot_k400.py retriever.pth`` takes
    both towers from that one file.
    """

    def __init__(self, clip: dict, backbone: dict, cls_head: dict,
                 data_preprocessor: Optional[dict] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None):
        clip_model = load_clip_from_config(clip, 'model.clip')
        super().__init__(backbone=dict(backbone, clip_model=clip_model),
                         cls_head=dict(cls_head, clip_model=clip_model),
                         data_preprocessor=data_preprocessor, train_cfg=train_cfg,
                         test_cfg=test_cfg)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        retriever_keys = [k for k in state_dict if k.startswith(prefix + _RETRIEVER_TEXT)]
        if retriever_keys and not any(k.startswith(prefix + _HEAD_TEXT) for k in state_dict):
            for key in retriever_keys:
                state_dict[prefix + _HEAD_TEXT + key[len(prefix + _RETRIEVER_TEXT):]] = \
                    state_dict.pop(key)
            for key in [k for k in state_dict if k.startswith(
                    tuple(prefix + p for p in _RETRIEVER_ONLY))]:
                del state_dict[key]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
