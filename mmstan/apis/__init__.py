"""mmstan's Python API: one way to get a model from a config and a checkpoint, and to
run it on videos and captions.

- :func:`init_model` -- config (+ checkpoint path or URL) -> model in eval mode, shaped
  like mmaction2's ``init_recognizer``.
- :func:`encode_videos`, :func:`encode_texts`, :func:`score` -- video-text retrieval with
  the config's own pipelines and the model's own head.
- :func:`recognize` -- one video's class scores.
- :func:`read_checkpoint` -- the one checkpoint reader (path or URL, verified download,
  ``weights_only=True``, ``state_dict`` / ``module.`` unwrapped); :func:`load_weights`
  puts weights into a model or says in one line what does not fit.

The demos (``demo/*.py``), ``tools/search.py``, ``tools/analysis/get_flops.py`` and the
checkpoint converters are built on these.
"""
from .checkpoint import checkpoint_file, load_weights, read_checkpoint
from .model import init_model
from .recognition import recognize
from .retrieval import encode_texts, encode_videos, score

__all__ = ['checkpoint_file', 'encode_texts', 'encode_videos', 'init_model', 'load_weights',
           'read_checkpoint', 'recognize', 'score']
