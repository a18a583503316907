"""transformers is the optional ``chat`` extra: only mmstan/chat imports it, inside
functions, and without it mmstan imports, registers and builds its models, while the
chat demo says in one line what to install."""
import ast
import glob
import os.path as osp

from conftest import ROOT, run_tool

OPTIONAL = ('transformers', 'tokenizers')

#: Runs with transformers hidden: not importable, and absent for importlib metadata (which
#: mmaction2 reads to decide whether to import its VindLU models).
HIDDEN = r'''
import importlib.abc, importlib.metadata, sys
import importlib_metadata

class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('transformers', 'tokenizers'):
            raise ModuleNotFoundError(f'No module named {name!r}')

sys.meta_path.insert(0, Hide())
for module in (importlib.metadata, importlib_metadata):
    def distribution(name, _real=module.distribution, _module=module):
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
torch.save({'state_dict': tiny_mugstan_state()}, sys.argv[1] + '/mugstan.pth')
write_video(sys.argv[1] + '/clip.mp4', make_clip(np.random.default_rng(0), 0, 64, 8, 5.0)[0])
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('transformers', 'tokenizers'))
print('LOADED', loaded, flush=True)
sys.argv = ['demo', sys.argv[1] + '/clip.mp4', 'what ?', '--checkpoint', sys.argv[1] + '/mugstan.pth']
import runpy
runpy.run_path('demo/demo_video_chat.py', run_name='__main__')
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


def test_without_transformers_mmstan_works_and_the_chat_demo_says_what_to_install(tmp_path):
    result = run_tool(['-c', HIDDEN, str(tmp_path)], timeout=300)
    assert 'LOADED []' in result.stdout, result.stdout[-2000:] + result.stderr[-3000:]
    err = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert result.returncode == 1 and len(err) == 1, result.stderr[-3000:]
    assert err[0].startswith('error: video chat needs transformers (')
    assert err[0].endswith('install it with `pip install -e .[chat]` (or -r requirements/chat.txt)')
