"""mmstan.utils.cli: only user mistakes found while building from a config become one
``error:`` line; bugs keep their traceback; ``MMSTAN_DEBUG=1`` shows every traceback."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.registry import Registry
from torch import nn

from conftest import ROOT, run_tool
from mmstan.errors import UserError
from mmstan.utils.cli import explain, load_config
from mmstan.utils.paths import require_file

HERE = osp.dirname(osp.abspath(__file__))
DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_meanpool.py')
TOY = Registry('toy')


@TOY.register_module()
class Toy:
    def __init__(self, width: int, depth: int = 1):
        self.width, self.depth = width, depth


@TOY.register_module()
class ForwardingToy(Toy):
    """Passes its other keys on to ``Toy`` (as many mmaction heads do)."""

    def __init__(self, scale: float = 1.0, **kwargs):
        self.scale = scale
        super().__init__(**kwargs)


@TOY.register_module()
class ToyWithBuggyInit:
    """Its constructor body calls another class wrongly: a bug, whatever the config."""

    def __init__(self, width: int = 4):
        self.layer = nn.Linear(width, width, biass=False)


@TOY.register_module()
class ToyWithBuggyInitSameKey:
    """As above, but the rejected keyword is also one of this config's keys."""

    def __init__(self, width: int = 4):
        self.layer = nn.Linear(4, 4, width=width)


@TOY.register_module()
class ToyReadingInternalFile:
    def __init__(self, width: int = 4):
        with open('/nonexistent-mmstan-test-dir/table.json'):
            pass


def caught(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except Exception as err:  # noqa: BLE001  (the test inspects it)
        return err
    raise AssertionError('expected an exception')


# explain(): the classified cases


def test_explain_user_error_anywhere():
    def deep():
        raise UserError('annotation file not found: a.txt; prepare the dataset')

    assert explain(caught(deep)) == 'annotation file not found: a.txt; prepare the dataset'


def test_explain_registry_miss():
    message = explain(caught(TOY.build, dict(type='Toyy', width=2)))
    assert message is not None and 'Toyy is not in the test_cli::toy registry' in message
    assert 'check the `type` name' in message


def test_explain_unexpected_key_at_the_build_call():
    message = explain(caught(TOY.build, dict(type='Toy', widht=2)))
    assert message is not None and "unexpected keyword argument 'widht'" in message
    assert 'Toy.__init__()' in message and 'check the keys' in message


def test_explain_missing_required_key():
    message = explain(caught(TOY.build, dict(type='Toy')))
    assert message is not None and "missing 1 required positional argument: 'width'" in message


def test_explain_key_passed_on_through_super_init():
    message = explain(caught(TOY.build, dict(type='ForwardingToy', width=2, dpeth=3)))
    assert message is not None and "'dpeth'" in message
    assert message.startswith('building ForwardingToy: Toy.__init__()')


def test_explain_nested_build_in_mmaction():
    """A wrong key in a section built inside another class's constructor (the model's
    backbone, built by Recognizer3D) is still found at its own build call."""
    from mmaction.registry import MODELS
    model = dict(type='Recognizer3D', backbone=dict(type='CLIPMeanPool', archh='x'),
                 cls_head=dict(type='VideoLinearHead', num_classes=2, in_channels=64))
    message = explain(caught(MODELS.build, model))
    assert message is not None and "'archh'" in message and 'CLIPMeanPool' in message


@pytest.mark.parametrize('iter_based', [False, True])
def test_explain_param_scheduler_key(iter_based):
    """mmengine builds epoch-based schedulers converted to iterations through
    ``build_iter_from_epoch``: a wrong key is still the config's."""
    import torch
    from mmengine.registry import PARAM_SCHEDULERS
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    cfg = dict(type='CosineAnnealingLR', T_max=5, eta_minn=1e-5, by_epoch=True, begin=1, end=6)
    if iter_based:
        cfg.update(convert_to_iter_based=True, epoch_length=10)
    err = caught(PARAM_SCHEDULERS.build, cfg, default_args=dict(optimizer=optimizer))
    message = explain(err)
    assert message is not None and message.startswith('building CosineAnnealingLR: ')
    assert "'eta_minn'" in message


def test_explain_missing_config_file(tmp_path):
    message = explain(caught(load_config, str(tmp_path / 'nope.py')))
    assert message == f'config file not found: {tmp_path / "nope.py"}; check the config path on ' \
        'the command line'


def test_explain_missing_base_config(tmp_path):
    cfg = tmp_path / 'child.py'
    cfg.write_text("_base_ = ['./no_such_base.py']\n")
    message = explain(caught(load_config, str(cfg)))
    assert message is not None and 'no_such_base.py' in message and '_base_' in message


def test_explain_user_error_from_a_dataloader_worker():
    """torch re-raises a worker's exception as the same type with the worker traceback
    in its message; the explanation is the original one line."""
    from torch._utils import ExceptionWrapper

    def in_worker():
        try:
            raise UserError('cannot read video v.mp4; remove it from ann.txt')
        except UserError:
            ExceptionWrapper(where='in DataLoader worker process 0').reraise()

    err = caught(in_worker)
    assert 'Original Traceback' in str(err)  # what torch does, so the unwrapping matters
    assert explain(err) == 'cannot read video v.mp4; remove it from ann.txt'


# explain(): what stays a bug


def test_bug_in_constructor_body_is_not_classified():
    assert explain(caught(TOY.build, dict(type='ToyWithBuggyInit'))) is None
    assert explain(caught(TOY.build, dict(type='ToyWithBuggyInitSameKey', width=4))) is None


def test_signature_error_outside_any_build_is_not_classified():
    def forward(x, width=1):
        return x

    def training_step():
        return forward(1, widht=2)

    assert explain(caught(training_step)) is None


def test_file_not_found_from_code_is_not_classified(tmp_path):
    def read_stats():
        with open(tmp_path / 'stats.json'):
            pass

    assert explain(caught(read_stats)) is None
    assert explain(caught(TOY.build, dict(type='ToyReadingInternalFile'))) is None


def test_registry_like_key_error_from_elsewhere_is_not_classified():
    def lookup():
        raise KeyError('Foo is not in the models registry')

    assert explain(caught(lookup)) is None


def test_bug_while_handling_a_user_error_is_not_classified():
    def handler():
        try:
            raise UserError('a user mistake')
        except UserError:
            raise ValueError('a bug in the handler')  # noqa: B904

    assert explain(caught(handler)) is None


def test_require_file(tmp_path):
    present = tmp_path / 'a.txt'
    present.write_text('x')
    assert require_file(str(present), 'thing', 'hint') == str(present)
    with pytest.raises(UserError, match=r'^label map not found: .*b\.txt; set `classes`$'):
        require_file(str(tmp_path / 'b.txt'), 'label map', 'set `classes`')


# the tools end to end


def data_options(root):
    opts = ['train_cfg.max_epochs=1', 'param_scheduler=[]']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={root}', f'{loader}.batch_size=8',
                 f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    return opts


def buggy_config(tmp_path, bug):
    cfg = tmp_path / f'buggy_{bug}.py'
    cfg.write_text(
        f"_base_ = [{DEMO!r}]\n"
        "custom_imports = dict(imports=['mmstan', 'buggy_modules'], allow_failed_imports=False)\n"
        f"model = dict(backbone=dict(_delete_=True, type='BuggyBackbone', bug={bug!r}))\n")
    return str(cfg)


def run_train(config, *options, env=None):
    full_env = {k: v for k, v in os.environ.items() if k != 'MMSTAN_DEBUG'}
    full_env.update(PYTHONPATH=os.pathsep.join([ROOT, HERE]), **(env or {}))
    return subprocess.run([sys.executable, 'tools/train.py', config, *options], cwd=ROOT,
                          env=full_env, capture_output=True, text=True, timeout=600)


def error_lines(proc):
    return [line for line in proc.stderr.splitlines() if line.startswith('error:')]


@pytest.mark.parametrize('bug,last_line', [
    ('type', "TypeError: relu() got an unexpected keyword argument 'bug'"),
    ('file', 'FileNotFoundError: [Errno 2] No such file or directory'),
])
def test_bug_in_training_iteration_shows_traceback(synthetic_motion, tmp_path, bug, last_line):
    proc = run_train(buggy_config(tmp_path, bug), '--work-dir', str(tmp_path / 'work'),
                     '--cfg-options', *data_options(synthetic_motion))
    assert proc.returncode != 0
    assert 'Traceback (most recent call last)' in proc.stderr, proc.stderr[-3000:]
    assert 'buggy_modules.py' in proc.stderr and 'in forward' in proc.stderr
    assert last_line in proc.stderr.strip().splitlines()[-1]
    assert not error_lines(proc)


def test_config_mistake_gives_one_error_line(synthetic_motion, tmp_path):
    proc = run_train(DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                     'model.cls_head.num_classs=4', *data_options(synthetic_motion))
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    errors = error_lines(proc)
    assert len(errors) == 1 and "'num_classs'" in errors[0]
    assert errors[0].startswith('error: building VideoLinearHead: BaseHead.__init__()')


def test_mmstan_debug_shows_the_traceback(synthetic_motion, tmp_path):
    proc = run_train(DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                     'model.cls_head.num_classs=4', *data_options(synthetic_motion),
                     env={'MMSTAN_DEBUG': '1'})
    assert proc.returncode != 0
    assert 'Traceback (most recent call last)' in proc.stderr
    assert "unexpected keyword argument 'num_classs'" in proc.stderr.strip().splitlines()[-1]
    assert not error_lines(proc)


def test_missing_annotation_names_the_file(tmp_path):
    proc = run_train(DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                     *data_options(str(tmp_path / 'no_data')))
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    errors = error_lines(proc)
    assert len(errors) == 1
    assert f'annotation file not found: {tmp_path}/no_data/' in errors[0] and 'train' in errors[0]


def test_test_tool_rejects_a_non_pickle_dump(tmp_path):
    proc = run_tool(['tools/test.py', DEMO, str(tmp_path / 'e.pth'), '--dump', 'preds.json'])
    assert proc.returncode == 2  # argparse's usage error, before anything runs
    assert '--dump must name a .pkl file, got preds.json' in proc.stderr
    assert 'Traceback' not in proc.stderr
