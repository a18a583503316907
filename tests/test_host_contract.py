"""The host contract: importing mmstan changes nothing for a user of stock mmaction2 configs.

A subprocess imports the stock stack (mmengine, mmcv, mmdet, mmaction2: every registry a
stock config builds from), snapshots it, imports mmstan and every mmstan module, and
compares: no registry entry, checkpoint scheme, module global or class attribute of the
host (or of torch / numpy) that existed before may be another object afterwards. mmstan
may only add: its own classes under its own registry names, its own checkpoint scheme,
and torch weights-only allow-list entries.
"""
import json
import os
import os.path as osp
import re
import subprocess
import sys

from conftest import ROOT

#: Runs in a fresh interpreter; prints one JSON object.
SNAPSHOT_SCRIPT = r'''
import importlib, importlib.util, json, pkgutil, sys, types
import numpy, torch, torch.cuda, torch.distributed, torch.serialization

HOST = ('mmengine', 'mmcv', 'mmdet', 'mmaction')
OTHERS = (numpy, torch, torch.cuda, torch.distributed, torch.serialization)

# The host: a stock mmaction2 install that works. The 1.2.0 wheel cannot import
# mmaction.models (its drn package is missing, mmaction2 #2714), so stand in the same
# placeholder mmstan uses, loaded from compat.py without importing mmstan.
spec = importlib.util.spec_from_file_location('_host_drn', sys.argv[1])
host_fix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(host_fix)
host_fix.stub_missing_drn()
for name in ('mmengine.runner', 'mmengine.hooks', 'mmengine.optim', 'mmengine.model',
             'mmengine.dataset', 'mmengine.evaluator', 'mmengine.visualization',
             'mmengine.dist', 'mmengine.logging', 'mmcv.ops', 'mmcv.transforms',
             'mmdet.models', 'mmdet.datasets', 'mmdet.evaluation', 'mmdet.engine',
             'mmdet.visualization', 'mmaction.models', 'mmaction.datasets',
             'mmaction.evaluation', 'mmaction.engine', 'mmaction.visualization',
             'mmaction.evaluation.functional.ava_evaluation.metrics',
             'torch._dynamo'):  # (which wraps torch.manual_seed when first imported)
    importlib.import_module(name)

from mmengine.registry import Registry
from mmengine.runner.checkpoint import CheckpointLoader

CONTAINERS = (dict, list, set, tuple)


def host_modules():
    found = {n: m for n, m in list(sys.modules.items())
             if isinstance(m, types.ModuleType) and n.split('.')[0] in HOST}
    found.update({m.__name__: m for m in OTHERS})
    return found


def snapshot():
    registries, globals_, classes = {}, {}, {}
    for mod_name, module in host_modules().items():
        members = dict(vars(module))
        globals_[mod_name] = members
        for name, value in members.items():
            if isinstance(value, Registry):
                registries.setdefault(id(value), (f'{mod_name}.{name}', value,
                                                  dict(value._module_dict)))
            elif (isinstance(value, type) and getattr(value, '__module__', None) == mod_name
                  and mod_name.split('.')[0] in HOST):
                classes[f'{mod_name}.{name}'] = {
                    k: v for k, v in vars(value).items() if not isinstance(v, CONTAINERS)}
    return dict(registries=registries, globals=globals_, classes=classes,
                schemes=dict(CheckpointLoader._schemes),
                safe_globals=list(torch.serialization.get_safe_globals()))


def origin(obj):
    return (getattr(obj, '__module__', None) or '').split('.')[0]


before = snapshot()
import mmstan  # noqa: E402
for info in pkgutil.walk_packages(mmstan.__path__, 'mmstan.'):
    importlib.import_module(info.name)
after = snapshot()

replaced, added_foreign = [], []
for key, (label, registry, entries) in before['registries'].items():
    now = dict(registry._module_dict)
    for name, obj in entries.items():
        if now.get(name) is not obj:
            replaced.append(f'registry {label}: {name!r} is now {now.get(name)!r}, was {obj!r}')
    for name in set(now) - set(entries):
        if origin(now[name]) not in HOST + ('mmstan', ):
            added_foreign.append(f'registry {label}: new {name!r} -> {now[name]!r}')
for prefix, loader in before['schemes'].items():
    if after['schemes'].get(prefix) is not loader:
        replaced.append(f'checkpoint scheme {prefix!r}: {after["schemes"].get(prefix)!r}, '
                        f'was {loader!r}')
for prefix in set(after['schemes']) - set(before['schemes']):
    if origin(after['schemes'][prefix]) != 'mmstan':
        added_foreign.append(f'checkpoint scheme {prefix!r} -> {after["schemes"][prefix]!r}')
for mod_name, members in before['globals'].items():
    now = after['globals'][mod_name]
    for name, obj in members.items():
        if name not in now:
            replaced.append(f'global {mod_name}.{name} removed')
        elif now[name] is not obj:
            replaced.append(f'global {mod_name}.{name} is now {now[name]!r}, was {obj!r}')
for cls_name, attrs in before['classes'].items():
    now = after['classes'][cls_name]
    for name, obj in attrs.items():
        if now.get(name) is not obj:
            replaced.append(f'class attribute {cls_name}.{name} is now {now.get(name)!r}')
    for name in set(now) - set(attrs):
        replaced.append(f'class attribute {cls_name}.{name} added: {now[name]!r}')
missing_safe = [repr(g) for g in before['safe_globals'] if g not in after['safe_globals']]
print(json.dumps(dict(replaced=replaced, added_foreign=added_foreign,
                      removed_safe_globals=missing_safe)))
'''


def host_changes() -> dict:
    proc = subprocess.run([sys.executable, '-c', SNAPSHOT_SCRIPT, osp.join(ROOT, 'mmstan', 'compat.py')],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_mmstan_replaces_nothing_in_the_host():
    """Every registry entry (mmengine, mmcv, mmdet, mmaction2), checkpoint scheme, module
    global and class attribute of the host (HistoryBuffer.__getstate__, mmengine's
    ``_init_dist_pytorch``, MMDistributedDataParallel.__init__, ...) and of torch / numpy is
    the same object after ``import mmstan``; mmstan only adds names of its own."""
    changes = host_changes()
    assert changes == dict(replaced=[], added_foreign=[], removed_safe_globals=[]), \
        json.dumps(changes, indent=1)


def test_no_forced_registration_in_mmstan():
    """``force=True`` (a registry or checkpoint scheme overriding the host's) appears nowhere."""
    forced = []
    for folder, _, files in os.walk(osp.join(ROOT, 'mmstan')):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                with open(path) as f:
                    forced += [f'{path}:{i}' for i, line in enumerate(f, 1)
                               if re.search(r'force\s*=\s*True', line)]
    assert forced == []
