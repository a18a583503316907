"""The one check for files a user has to provide (configs, annotations, weights, label maps)."""
import os

from mmstan.errors import UserError


def require_file(path: str, what: str, hint: str) -> str:
    """Return ``path`` if it is a file, else raise a one-line :class:`UserError`
    ``"<what> not found: <path>; <hint>"`` (``hint`` says what to do)."""
    if not os.path.isfile(path):
        raise UserError(f'{what} not found: {path}; {hint}')
    return path


#: The checkout mmstan is installed from (``pip install -e .``): its ``configs/``,
#: ``docs/`` and ``model-index.yml``, which the analysis tools read.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
