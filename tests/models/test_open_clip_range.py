"""The CLIP adapters hold at the low end of the pinned open_clip range too.

``requirements/runtime.txt`` allows ``open_clip_torch>=3.0,<3.4``; the installed version
(the high end) runs every test. This test installs the low end into a private folder and
runs the tower tests against it in a subprocess.
"""
import os
import subprocess
import sys

import open_clip
import pytest

from conftest import ROOT

LOW_END = '3.0.0'


@pytest.mark.slow
def test_tower_tests_pass_with_the_lowest_supported_open_clip(tmp_path):
    target = tmp_path / 'site'
    pip = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--disable-pip-version-check',
         '--target', str(target), f'open_clip_torch=={LOW_END}'],
        capture_output=True, text=True, timeout=300)
    if pip.returncode != 0:
        pytest.skip(f'could not install open_clip_torch=={LOW_END} (no package index?): '
                    f'{pip.stderr.strip().splitlines()[-1:]}')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), ROOT]))
    check = subprocess.run([sys.executable, '-c', 'import open_clip; print(open_clip.__version__)'],
                           env=env, capture_output=True, text=True)
    assert check.stdout.strip() == LOW_END != open_clip.__version__, check.stderr
    run = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
         'tests/models/test_clip_towers.py', 'tests/models/test_one_clip.py',
         # the tube-masked path (VisionTransformer._embeds + transformer.forward_intermediates)
         'tests/models/test_tube_mask.py::test_clip_tower_on_kept_tokens_equals_open_clip_with_dropped_keys_masked',
         'tests/models/test_tube_mask.py::test_clip_tower_keeping_everything_equals_the_public_path'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
