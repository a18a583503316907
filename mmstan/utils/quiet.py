"""Keep the command lines' output to their own: silence setuptools' ``pkg_resources is
deprecated`` warning, which mmengine triggers in every command that loads a config.

mmengine 0.10.7 resolves ``mmaction::`` config bases with ``pkg_resources``
(``mmengine.utils.package_utils.is_installed`` imports it and then reloads it), and
setuptools >= 80 warns on each of those imports: two ``UserWarning`` s before anything the
command prints. Nothing else is silenced.

Every entry point (``tools/*.py``, ``tools/*/*.py``, ``demo/*.py``) calls
:func:`quiet_pkg_resources` first thing. The warning is raised when a config is loaded,
not when mmengine is imported (``import mmstan`` leaves ``pkg_resources`` unimported,
tests/utils/test_quiet.py checks it), so the filter is in place in time even though
importing this module runs ``mmstan/__init__``. This module itself imports only the
standard library, and importing it changes nothing: only the call installs the filter
(a library importing mmstan keeps its host's warning filters).
"""
import warnings

#: The one message silenced (a regular expression matched at the start of the message).
PKG_RESOURCES_MESSAGE = 'pkg_resources is deprecated'


def quiet_pkg_resources() -> None:
    """Ignore setuptools' ``pkg_resources is deprecated`` ``UserWarning`` in this process
    (any other warning still shows)."""
    warnings.filterwarnings('ignore', message=PKG_RESOURCES_MESSAGE, category=UserWarning)
