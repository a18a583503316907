"""Tokenize captions with open_clip's tokenizer, keeping the end-of-text token."""
import open_clip
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class OpenCLIPTokenize(BaseTransform):
    """``results['text']`` (a caption) -> ``[context_length]`` token ids.

    Captions longer than ``context_length`` are cut and their last kept token replaced
    by end-of-text, so the text tower's EOT pooling always finds it (the official code
    slices 77 tokens to 32 and loses it).
    """

    def __init__(self, context_length: int = 32):
        self.context_length = context_length

    def transform(self, results: dict) -> dict:
        results['text'] = open_clip.tokenize([results['text']], self.context_length)[0]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(context_length={self.context_length})'
