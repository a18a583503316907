"""transformers is the optional ``chat`` extra: only mmstan/chat imports it, inside
functions, and without it mmstan imports and registers its models, while the chat demo
says in one line what to install; offline, the demo names the LLaVA download."""
import ast
import glob
import json
import os.path as osp

import pytest

from conftest import ROOT, run_tool

OPTIONAL = ('transformers', 'tokenizers')

#: One process, two scenarios (one spawn): first transformers hidden (not importable, and
#: absent for importlib metadata, which mmaction2 reads to decide whether to import its
#: VindLU models): mmstan imports and registers, and the chat demo says what to install;
#: then transformers back, HF_HUB_OFFLINE=1 and an empty HF cache: the demo names the
#: LLaVA download. Each demo run's exit code and stderr are printed as JSON.
SCENARIOS = r'''
import contextlib, importlib.abc, importlib.metadata, io, json, runpy, sys
import importlib_metadata

class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('transformers', 'tokenizers'):
            raise ModuleNotFoundError(f'No module named {name!r}')

real = {m: m.distribution for m in (importlib.metadata, importlib_metadata)}
sys.meta_path.insert(0, Hide())
for module in real:
    def distribution(name, _real=real[module], _module=module):
        if name == 'transformers':
            raise _module.PackageNotFoundError(name)
        return _real(name)
    module.distribution = distribution

import numpy as np, torch
import mmstan, mmstan.chat, mmstan.chat.llava
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
init_default_scope('mmaction')
assert 'CLIPSTAN' in MODELS.module_dict and 'VideoTextRetriever' in MODELS.module_dict
from mmstan.chat.tiny import tiny_mugstan_state
from mmstan.datasets.synthetic import make_clip, write_video
out = sys.argv[1]
torch.save({'state_dict': tiny_mugstan_state()}, out + '/mugstan.pth')
write_video(out + '/clip.mp4', make_clip(np.random.default_rng(0), 0, 64, 8, 5.0)[0])
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('transformers', 'tokenizers'))
print('LOADED', loaded, flush=True)

def demo(*args):
    err = io.StringIO()
    sys.argv = ['demo', out + '/clip.mp4', 'what ?', '--checkpoint', out + '/mugstan.pth', *args]
    with contextlib.redirect_stderr(err):
        try:
            runpy.run_path('demo/demo_video_chat.py', run_name='__main__')
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    print('DEMO' + json.dumps([code, err.getvalue()]), flush=True)

demo()
sys.meta_path.remove(sys.meta_path[0])
for module, distribution in real.items():
    module.distribution = distribution
demo('--llava', 'llava-hf/llava-1.5-7b-hf')
'''


def _imports(path):
    """``(module, top_level)`` of every import in a Python file."""
    tree = ast.parse(open(path, encoding='utf-8').read())
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, id(node) in top) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, id(node) in top


def test_only_mmstan_chat_imports_transformers_and_only_inside_functions():
    for path in glob.glob(osp.join(ROOT, 'mmstan', '**', '*.py'), recursive=True):
        rel = osp.relpath(path, ROOT)
        for module, top_level in _imports(path):
            if module.split('.')[0] in OPTIONAL:
                assert rel.startswith(osp.join('mmstan', 'chat', '')), f'{rel} imports {module}'
                assert not top_level, f'{rel} imports {module} at module level'


def _error_line(stderr):
    lines = [line for line in stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and 'Traceback' not in stderr, stderr[-3000:]
    return lines[0]


@pytest.mark.slow  # one spawned process, ~25 s at load 4 on 2 cores
def test_without_transformers_mmstan_works_and_the_demo_errors_name_what_to_get(tmp_path):
    pytest.importorskip('transformers')  # its second scenario needs it installed
    result = run_tool(['-c', SCENARIOS, str(tmp_path)], timeout=300,
                      env=dict(HF_HUB_OFFLINE='1', HF_HOME=str(tmp_path / 'hf')))
    assert 'LOADED []' in result.stdout, result.stdout[-2000:] + result.stderr[-3000:]
    runs = [json.loads(line[4:]) for line in result.stdout.splitlines() if line.startswith('DEMO')]
    assert len(runs) == 2, result.stdout[-2000:] + result.stderr[-3000:]
    (code, stderr), (offline_code, offline_stderr) = runs
    line = _error_line(stderr)
    assert code == 1 and line.startswith('error: video chat needs transformers (')
    assert line.endswith('install it with `pip install -e .[chat]` (or -r requirements/chat.txt)')
    line = _error_line(offline_stderr)
    assert offline_code == 1
    assert line.startswith("error: LLaVA model 'llava-hf/llava-1.5-7b-hf' is not available here")
    assert '`huggingface-cli download llava-hf/llava-1.5-7b-hf --local-dir DIR`' in line
