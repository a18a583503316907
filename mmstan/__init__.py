"""mmstan: STAN and Mug-STAN for OpenMMLab mmaction2.

Importing this package applies the compatibility fixes for the pinned OpenMMLab
stack (:mod:`mmstan.compat`) and registers every mmstan model, dataset, transform,
metric and loop into mmaction2's registries, and the ``mmstan:http(s)://`` checkpoint
scheme into mmengine's, each under names of its own: nothing the host registered or
defined is replaced (tests/test_host_contract.py).
"""
from . import compat

compat.apply()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration)
from .errors import UserError  # noqa: E402
from .utils.download import register_url_loader  # noqa: E402
from .version import __version__  # noqa: E402

register_url_loader()  # mmstan:https://... checkpoints: verified, weights-only

__all__ = ['UserError', '__version__']
