"""mmstan: STAN and Mug-STAN for OpenMMLab mmaction2.

Importing this package applies the compatibility fixes for the pinned OpenMMLab
stack (:mod:`mmstan.compat`) and registers every mmstan model, dataset, transform,
metric and loop into mmaction2's registries.
"""
from . import compat

compat.apply()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration)
from .errors import UserError  # noqa: E402
from .utils.download import register_url_loader  # noqa: E402
from .version import __version__  # noqa: E402

register_url_loader()  # load_from / Pretrained / tools/test.py URLs: verified, weights-only

__all__ = ['UserError', '__version__']
