"""The user documentation (README.md and docs/*.md) holds: every command it gives for one
of this repository's scripts names a script that exists and whose ``--help`` works, every
config such a command names exists, and every relative link reaches a file (and, for a
link into a page, one of its headings).

The commands are the lines of fenced code blocks that start with ``python tools/...``,
``python demo/...``, ``bash tools/...`` or a bare ``tools/...`` script, and the inline code
spans that start with ``python `` or ``bash `` and such a script. ``--help`` runs once per
distinct Python script, all in one interpreter (PYTHONPATH = the repository), so the
imports are paid once."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from conftest import ROOT, user_docs

#: A command of a code block: optional ``python``/``bash``, then a script of the repo.
COMMAND = re.compile(r'^(?:(?:python|bash)\s+)?((?:tools|demo)/[\w/.-]+\.(?:py|sh))(?=\s|$)')
#: An inline code span that runs a script of the repo.
INLINE = re.compile(r'`((?:python|bash)\s+(?:tools|demo)/[^`]+)`')
#: A markdown link (not an image) and its target.
LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')
#: Phrases about the machine the project was built on, which a user's docs do not need.
BUILD_ENVIRONMENT = ('../shared', 'shared/docs', 'docs/seeds', 'other jobs', 'this machine',
                     '(no internet)', 'our text of', 'the text we have')

RUN_HELP = r'''
import contextlib, io, json, os, runpy, sys
results = {}
for script in sys.argv[1:]:
    saved_path, saved_argv = list(sys.path), list(sys.argv)
    sys.argv = [script, '--help']
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    out = io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            runpy.run_path(script, run_name='__main__')
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException as error:  # noqa: B036  (report any failure with the script's name)
        code, out = 1, io.StringIO(f'{type(error).__name__}: {error}')
    finally:
        sys.path[:], sys.argv = saved_path, saved_argv
    text = out.getvalue()
    results[script] = [code, 'usage:' in text.lower(), text[-2000:]]
print('RESULTS' + json.dumps(results))
'''


def fenced_blocks(text: str):
    """The contents of the ``` fenced code blocks of a markdown text."""
    return re.findall(r'^```[^\n]*\n(.*?)^```', text, flags=re.S | re.M)


def prose(text: str) -> str:
    """A markdown text without its fenced code blocks."""
    return re.sub(r'^```[^\n]*\n.*?^```', '', text, flags=re.S | re.M)


def doc_commands():
    """``[(page, command line, script)]`` for every command that runs a repo script."""
    found = []
    for page, text in user_docs().items():
        for block in fenced_blocks(text):
            for line in block.splitlines():
                match = COMMAND.match(line.strip())
                if match:
                    found.append((page, line.strip(), match.group(1)))
        for span in INLINE.findall(prose(text)):
            match = COMMAND.match(span.strip())
            if match:
                found.append((page, span.strip(), match.group(1)))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    return re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')


def anchors(path: str) -> set:
    with open(path, encoding='utf-8') as f:
        text = prose(f.read())
    return {slug(h) for h in re.findall(r'^#{1,6} (.+)$', text, flags=re.M)}


def test_docs_exist_and_the_index_lists_every_page():
    pages = sorted(p for p in user_docs() if p.startswith('docs/'))
    for page in ('docs/get_started.md', 'docs/model_zoo.md', 'docs/dataset_preparation.md',
                 'docs/train_test.md', 'docs/models.md', 'docs/baselines.md',
                 'docs/video_search.md', 'docs/benchmarks.md', 'docs/README.md'):
        assert page in pages, page
    index = user_docs()['docs/README.md']
    for page in pages:
        if page != 'docs/README.md':
            assert f']({osp.basename(page)})' in index, f'docs/README.md does not list {page}'


def test_every_command_names_an_existing_script_and_config():
    commands = doc_commands()
    assert len({script for _, _, script in commands}) >= 15, commands  # the extraction works
    for page, line, script in commands:
        assert osp.isfile(osp.join(ROOT, script)), f'{page}: {line!r} runs a missing {script}'
        for token in line.split():
            token = token.strip('\'"`,;()')
            if re.fullmatch(r'configs/[\w/.-]+\.py', token):
                assert osp.isfile(osp.join(ROOT, token)), f'{page}: {line!r} names a missing {token}'


def test_shell_scripts_of_the_commands_parse():
    for script in sorted({s for _, _, s in doc_commands() if s.endswith('.sh')}):
        proc = subprocess.run(['bash', '-n', osp.join(ROOT, script)], capture_output=True, text=True)
        assert proc.returncode == 0, (script, proc.stderr)


def test_every_python_script_of_the_commands_answers_help():
    """``SCRIPT --help`` exits 0 and prints a usage line, for each distinct script (one
    interpreter for all of them)."""
    scripts = sorted({s for _, _, s in doc_commands() if s.endswith('.py')})
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, '-c', RUN_HELP, *scripts], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.split('RESULTS', 1)[1])
    failed = {s: out for s, (code, usage, out) in results.items() if code != 0 or not usage}
    assert not failed, failed
    assert sorted(results) == scripts


def test_every_relative_link_resolves():
    for page, text in user_docs().items():
        base = osp.dirname(osp.join(ROOT, page))
        for target in LINK.findall(prose(text)):
            if re.match(r'[a-z]+:', target):  # http(s), mailto
                continue
            path, _, anchor = target.partition('#')
            full = osp.normpath(osp.join(base, path)) if path else osp.join(ROOT, page)
            assert osp.exists(full), f'{page}: link {target} -> missing {osp.relpath(full, ROOT)}'
            if anchor and full.endswith('.md'):
                assert anchor in anchors(full), f'{page}: link {target}: no such heading'


@pytest.mark.parametrize('phrase', BUILD_ENVIRONMENT)
def test_docs_do_not_describe_the_build_environment(phrase):
    for page, text in user_docs().items():
        assert phrase not in text, f'{page} says {phrase!r}'
