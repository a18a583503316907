"""Shared fixtures: a tiny open_clip architecture and small synthetic videos."""
import glob
import os
import os.path as osp
import runpy
import socket
import subprocess
import sys
import types

import pytest

import mmstan  # noqa: F401  (compat fixes + registration)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = osp.abspath(osp.join(ROOT, '..', 'shared', 'data', 'mmaction2'))

#: A tiny CLIP: 32x32 frames, patch 8 (16 patches), width 64, 2 layers.
TINY_ARCH = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=2, head_width=32, mlp_ratio=2.0),
    text_cfg=dict(context_length=32, vocab_size=49408, width=64, heads=2, layers=2))


@pytest.fixture
def tiny_arch():
    return {k: dict(v) if isinstance(v, dict) else v for k, v in TINY_ARCH.items()}


@pytest.fixture(scope='session')
def synthetic_motion(tmp_path_factory):
    """A small synthetic motion dataset (80 train / 16 val clips)."""
    from mmstan.datasets.synthetic import write_synthetic_motion

    out = tmp_path_factory.mktemp('synthetic_motion')
    write_synthetic_motion(str(out), num_train=80, num_val=16)
    return str(out)


@pytest.fixture
def shared_data():
    """mmaction2's reference test data, when present."""
    if not osp.isdir(SHARED_DATA):
        pytest.skip('mmaction2 reference test data (videos, AVA annotations) missing: '
                    f'no folder {SHARED_DATA}')
    return SHARED_DATA


@pytest.fixture
def shared_data_optional():
    """mmaction2's reference data folder, or None when absent."""
    return SHARED_DATA if osp.isdir(SHARED_DATA) else None


def user_docs() -> dict:
    """The user documentation, ``{path relative to the repository: text}``: README.md and
    docs/*.md, in that order. Tests of the snippets a user copies read them from here,
    wherever a page holds them."""
    paths = ['README.md'] + sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'docs', '*.md')))
    docs = {}
    for path in paths:
        with open(osp.join(ROOT, path), encoding='utf-8') as f:
            docs[path] = f.read()
    return docs


def user_docs_text() -> str:
    """README.md and docs/*.md as one text (see :func:`user_docs`)."""
    return '\n'.join(user_docs().values())


def free_port() -> int:
    """A TCP port free now, for one 2-process job's rendezvous (fixed or pid-derived
    ports collide when test runs overlap)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_tool(args, timeout=600, env=None, cwd=None):
    """Run a repo tool with this interpreter; returns the CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    return subprocess.run([sys.executable, *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def load_script(path: str) -> types.SimpleNamespace:
    """A repo script (``tools/...``, ``demo/...``, relative to the repository) loaded with
    :func:`runpy.run_path`, without running its ``__main__`` block: its globals as
    attributes, e.g. ``load_script('tools/search.py').main([...])`` runs what the command
    line runs, in this process."""
    return types.SimpleNamespace(**runpy.run_path(osp.join(ROOT, path)))


@pytest.fixture(autouse=True)
def mmaction_scope():
    """Build pipelines and models in mmaction's scope, as the Runner does."""
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmaction')
    yield
    DefaultScope._instance_dict.clear()
