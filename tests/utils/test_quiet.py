"""mmstan.utils.quiet: the commands print no ``pkg_resources is deprecated`` warning (which
mmengine triggers when it loads a config with an ``mmaction::`` base), and only that
warning is silenced."""
import ast
import glob
import os.path as osp
import subprocess
import sys

import pytest

from conftest import ROOT, run_tool

MESSAGE = 'pkg_resources is deprecated'
#: A config with an ``mmaction::`` base (default_runtime): loading it triggers the warning.
CONFIG = 'configs/demo/synthetic_motion_retrieval.py'
#: Every entry point: the scripts a user runs.
ENTRY_POINTS = sorted(osp.relpath(p, ROOT) for pattern in ('tools/*.py', 'tools/*/*.py', 'demo/*.py')
                      for p in glob.glob(osp.join(ROOT, pattern)))


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def warning_without_helper():
    """Loading the config without the helper prints the warning (else the command tests
    below would pass without it)."""
    proc = python(f'import mmstan\nfrom mmengine.config import Config\nConfig.fromfile({CONFIG!r})')
    assert proc.returncode == 0, proc.stderr[-2000:]
    if MESSAGE not in proc.stderr:
        pytest.skip(f'this setuptools does not warn "{MESSAGE}": nothing to silence')


@pytest.mark.parametrize('command', [
    ['tools/train.py', CONFIG, '--resume', '{tmp}/missing.pth', '--work-dir', '{tmp}/work'],
    ['tools/search.py', 'index', CONFIG, '{tmp}/missing.pth', '--videos', '{tmp}', '--out', '{tmp}/index'],
    ['demo/demo_retrieval.py', CONFIG, '{tmp}/missing.pth', '{tmp}/missing.mp4', '--text', 'a caption'],
], ids=lambda c: c[0])
def test_commands_print_no_pkg_resources_warning(warning_without_helper, command, tmp_path):
    """Each command loads the config (the warning's trigger), then stops at the missing
    checkpoint with its one error line, and nothing else on stderr."""
    proc = run_tool([arg.format(tmp=tmp_path) for arg in command], timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert MESSAGE not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().startswith('error: checkpoint not found'), proc.stderr[-2000:]


@pytest.mark.parametrize('script', ['tools/train.py', 'tools/search.py', 'demo/demo_retrieval.py'])
def test_help_prints_no_warning(script):
    proc = run_tool([script, '--help'], timeout=300)
    assert proc.returncode == 0 and 'usage:' in proc.stdout, proc.stderr[-2000:]
    assert 'Warning' not in proc.stderr, proc.stderr[-2000:]


def test_only_that_warning_is_silenced():
    proc = python('from mmstan.utils.quiet import quiet_pkg_resources\n'
                  'quiet_pkg_resources()\n'
                  'import warnings\n'
                  'warnings.warn("pkg_resources is deprecated as an API.", UserWarning)\n'
                  'warnings.warn("another user warning", UserWarning)\n'
                  'warnings.warn("pkg_resources is deprecated, another kind", RuntimeWarning)\n'
                  'warnings.warn("the text pkg_resources is deprecated, not at the start", UserWarning)\n')
    assert proc.returncode == 0, proc.stderr
    assert 'deprecated as an API' not in proc.stderr
    assert 'UserWarning: another user warning' in proc.stderr
    assert 'RuntimeWarning: pkg_resources is deprecated, another kind' in proc.stderr
    assert 'UserWarning: the text pkg_resources is deprecated' in proc.stderr


def test_importing_the_helper_in_time_and_without_effect():
    """Importing the helper (which runs mmstan/__init__) neither imports pkg_resources (so
    the call that follows is in time) nor changes the warning filters (a library that
    imports mmstan keeps its host's); the module itself needs only the standard library."""
    proc = python('import sys, warnings\n'
                  'import mmstan\n'   # torch, numpy, scipy add filters of their own
                  'before = list(warnings.filters)\n'
                  'import mmstan.utils.quiet\n'
                  'assert warnings.filters == before, "importing the helper changed the filters"\n'
                  'assert not any("pkg_resources" in str(f) for f in before), before\n'
                  'assert "pkg_resources" not in sys.modules, "pkg_resources imported"\n'
                  'mmstan.utils.quiet.quiet_pkg_resources()\n'
                  'assert len(warnings.filters) == len(before) + 1\n')
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(osp.join(ROOT, 'mmstan', 'utils', 'quiet.py')) as f:
        tree = ast.parse(f.read())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])}
    assert imported == {'warnings'}


def first_statements(path: str) -> list:
    """The script's first two statements after its docstring, as source text."""
    with open(osp.join(ROOT, path)) as f:
        body = ast.parse(f.read()).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return [ast.unparse(node) for node in body[:2]]


@pytest.mark.parametrize('path', ENTRY_POINTS)
def test_every_entry_point_calls_the_helper_first(path):
    assert first_statements(path) == ['from mmstan.utils.quiet import quiet_pkg_resources',
                                      'quiet_pkg_resources()'], path
