"""What a newcomer reads first holds: the Python version, the setup lines of the README
and docs/ (pre-commit, the AVA script copy, the K400 checkpoint of the AVA config),
LICENSE, CITATION.cff and CHANGELOG.md."""
import glob
import hashlib
import os
import os.path as osp
import re
import shlex
import subprocess
import sys

import pytest
import yaml
from mmengine.config import Config

from conftest import ROOT, user_docs_text

#: MD5 of the Apache License 2.0 text as the Apache Software Foundation publishes it.
APACHE_2_MD5 = '3b83ef96387f14655fc854ddc3c6bd57'
SEEDS = osp.join(ROOT, '..', 'shared', 'docs', 'seeds')


def read(name: str) -> str:
    with open(osp.join(ROOT, name), encoding='utf-8') as f:
        return f.read()


def readme_lines(prefix: str):
    """The lines of README.md and docs/*.md that start with ``prefix``."""
    return [line.strip() for line in user_docs_text().splitlines() if line.strip().startswith(prefix)]


def readme_commands(prefix: str):
    """The docs' command lines that start with ``prefix``, split as the shell does."""
    return [shlex.split(line, comments=True) for line in readme_lines(prefix)]


def clean_env(**extra) -> dict:
    """This environment with the venv's tools first on PATH and no GIT_* variables (the
    pre-push hook runs these tests with git's own set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('GIT_')}
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    env.update(extra)
    return env


def test_python_version_is_310_everywhere():
    assert sys.version_info >= (3, 10)
    assert re.search(r"python_requires='>=3\.10'", read('setup.py'))
    assert re.search(r'^target-version = "py310"$', read('pyproject.toml'), flags=re.M)
    assert 'Python 3.10 or newer' in read('README.md') and 'Python 3.9' not in read('README.md')


def test_install_refuses_python_older_than_310(tmp_path):
    """tools/install.sh stops with one error line before installing anything."""
    fake = tmp_path / 'venv' / 'bin' / 'python'
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\ncase "$2" in *version_info*) exit 1;; *platform*) echo 3.9.18;; '
                    '*) echo "unexpected call: $*" >&2; exit 3;; esac\n')
    fake.chmod(0o755)
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', 'install.sh')], cwd=str(tmp_path),
                          env=clean_env(VIRTUAL_ENV=str(tmp_path / 'venv')),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (f'error: mmstan needs Python >= 3.10 (torch 2.14 requires it); '
                                   f'{fake} is Python 3.9.18')


def test_pre_commit_comes_with_the_requirements_and_installs_both_hooks(tmp_path):
    """docs/get_started.md: "`pre-commit install` ... runs ruff on commit and the fast tests on push"."""
    assert any('`pre-commit install`' in line for line in user_docs_text().splitlines())
    requirements = [line.split('#')[0].strip() for line in read('requirements/tests.txt').splitlines()]
    assert 'pre-commit' in requirements
    repo = tmp_path / 'repo'
    repo.mkdir()
    env = clean_env(PRE_COMMIT_HOME=str(tmp_path / 'cache'))
    subprocess.run(['git', 'init', '-q', str(repo)], check=True, env=env)
    (repo / '.pre-commit-config.yaml').write_text(read('.pre-commit-config.yaml'))
    proc = subprocess.run([sys.executable, '-m', 'pre_commit', 'install'], cwd=str(repo), env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hooks = repo / '.git' / 'hooks'
    assert (hooks / 'pre-commit').is_file() and (hooks / 'pre-push').is_file(), proc.stdout


def test_readme_ava_script_copy_runs(tmp_path):
    """The docs' line that copies mmaction2's AVA scripts out of its wheel (which also
    holds a __pycache__ folder) runs as written."""
    lines = readme_lines('mkdir -p tools/data/ava && cp ')
    assert len(lines) == 1
    proc = subprocess.run(['bash', '-c', lines[0]], cwd=str(tmp_path), env=clean_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    copied = sorted(os.listdir(tmp_path / 'tools' / 'data' / 'ava'))
    for script in ('download_annotations.sh', 'download_videos.sh', 'cut_videos.sh',
                   'extract_rgb_frames_ffmpeg.sh', 'fetch_ava_proposals.sh'):  # the docs' steps
        assert script in copied, copied


def test_ava_k400init_loads_what_k400_training_writes():
    """configs/stan/ava_k400init.py's load_from is the last checkpoint `tools/train.py
    configs/stan/k400.py` leaves in its default work dir, and the docs say so."""
    from mmstan.utils.cli import default_work_dir

    k400 = osp.join(ROOT, 'configs', 'stan', 'k400.py')
    k400_cfg = Config.fromfile(k400)
    assert k400_cfg.default_hooks.checkpoint.get('max_keep_ckpts', -1) == -1  # every epoch kept
    last = osp.join(default_work_dir(k400), f'epoch_{k400_cfg.train_cfg.max_epochs}.pth')
    ava = osp.join(ROOT, 'configs', 'stan', 'ava_k400init.py')
    assert osp.normpath(Config.fromfile(ava).load_from) == osp.normpath(last)
    assert f'`{osp.normpath(last)}`' in user_docs_text()
    # the docs' lines: train K400, then AVA, then test AVA from its own default work dir
    train = readme_commands('bash tools/dist_train.sh configs/stan/')
    assert [args[2] for args in train] == ['configs/stan/k400.py', 'configs/stan/ava_k400init.py']
    assert osp.normpath(last) in readme_lines('bash tools/dist_train.sh configs/stan/k400.py')[0]
    for args in train:
        assert osp.isfile(osp.join(ROOT, args[2])) and args[3].isdigit()
    test = readme_commands('python tools/test.py configs/stan/ava_k400init.py')
    assert len(test) == 1
    assert osp.dirname(test[0][3]) == osp.normpath(default_work_dir(ava))


def test_license_is_the_apache_2_text_setup_py_declares():
    assert "license='Apache-2.0'" in read('setup.py')
    with open(osp.join(ROOT, 'LICENSE'), 'rb') as f:
        assert hashlib.md5(f.read()).hexdigest() == APACHE_2_MD5


def test_citation_cff_cites_the_software_and_both_papers():
    from mmstan.version import __version__

    cff = yaml.safe_load(read('CITATION.cff'))
    assert cff['cff-version'] == '1.2.0' and cff['type'] == 'software'
    assert cff['version'] == __version__ and cff['license'] == 'Apache-2.0'
    papers = {ref['title']: [f"{a['given-names']} {a['family-names']}" for a in ref['authors']]
              for ref in cff['references']}
    assert papers == {
        'Revisiting Temporal Modeling for CLIP-based Image-to-Video Knowledge Transferring': [
            'Ruyang Liu', 'Jingjia Huang', 'Ge Li', 'Jiashi Feng', 'Xinglong Wu', 'Thomas H. Li'],
        'Mug-STAN: Adapting Image-Language Pretrained Models for General Video Understanding': [
            'Ruyang Liu', 'Jingjia Huang', 'Wei Gao', 'Thomas H. Li', 'Ge Li'],
    }
    texts = [open(p, encoding='utf-8').read() for p in sorted(glob.glob(osp.join(SEEDS, '00[02]_*.txt')))]
    if len(texts) < 2:
        pytest.skip(f'paper texts not found under {SEEDS}: titles checked against the list above only')
    for title, text in zip(papers, texts):
        assert title in text


def test_changelog_has_unreleased_and_issue_sections():
    changelog = read('CHANGELOG.md')
    sections = re.findall(r'^## (.+)$', changelog, flags=re.M)
    assert sections[0] == 'Unreleased'
    assert re.search(r'^### #\d+ ', changelog, flags=re.M)
    shallow = subprocess.run(['git', 'rev-parse', '--is-shallow-repository'], cwd=ROOT,
                             env=clean_env(), capture_output=True, text=True)
    if shallow.returncode != 0 or shallow.stdout.strip() != 'false':
        pytest.skip('no full git history here (not a clone, or a shallow one)')
    for commit in re.findall(r'`([0-9a-f]{7})`', changelog):
        proc = subprocess.run(['git', 'cat-file', '-e', f'{commit}^{{commit}}'], cwd=ROOT,
                              env=clean_env(), capture_output=True)
        assert proc.returncode == 0, f'CHANGELOG.md names {commit}, not a commit of this history'
