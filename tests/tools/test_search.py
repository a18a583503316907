"""tools/search.py end to end: index a folder, rerun, query, --eval, a kill -9, errors."""
import json
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from tiny_model import CONFIG, HEADS, save_tiny_checkpoint

from conftest import ROOT, load_script, run_tool

TOOL = osp.join('tools', 'search.py')


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth'))


def _metrics(line_start, out):
    line = next(line for line in out.splitlines() if line.startswith(line_start))
    return {k: float(v) for k, v in re.findall(r'(t2v/\w+) ([0-9.]+)', line)}


def test_index_query_and_eval(synthetic_motion, tiny_checkpoint, tmp_path):
    videos = tmp_path / 'videos'
    shutil.copytree(osp.join(synthetic_motion, 'videos', 'val'), videos / 'val')
    (videos / 'val' / 'garbage.mp4').write_bytes(b'not a video\n' * 200)  # decord echoes it
    index = str(tmp_path / 'index')
    args = [TOOL, 'index', CONFIG, tiny_checkpoint, '--videos', str(videos), '--out', index,
            '--shard-size', '4', '--workers', '0']
    proc = run_tool(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'indexed 16 videos now, 0 were already' in proc.stdout
    assert 'val/garbage.mp4' in proc.stdout and 'skipping unreadable video' in proc.stdout + proc.stderr
    assert 'indexing' in proc.stderr  # the progress bar
    proc = run_tool(args)
    assert proc.returncode == 0 and 'indexed 0 videos now, 16 were already' in proc.stdout, proc.stderr
    proc = run_tool([TOOL, 'query', index, 'a red square moving left', 'the circle moves up',
                     '--top-k', '3', '--eval', osp.join(synthetic_motion, 'val_captions.json')])
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    hits = re.findall(r'^\s+\d\. +-?[0-9.]+  (val/\d{5}\.mp4)  \(stage 1: ', out, re.M)
    assert len(hits) == 6 and len(set(hits[:3])) == 3, out
    assert re.search(r'per query: stage 1 [0-9.]+ ms, stage 2 [0-9.]+ ms re-ranking 16', out), out
    assert 'gallery: 16 videos, 48 captions' in out
    exact, two_stage = _metrics('exact ', out), _metrics('two-stage ', out)
    assert set(exact) == {'t2v/R1', 't2v/R5', 't2v/R10', 't2v/MdR', 't2v/MnR'}
    assert two_stage == exact  # 50 candidates >= 16 videos: the head ranks everything


@pytest.mark.slow
def test_killed_index_run_resumes(synthetic_motion, tiny_checkpoint, tmp_path):
    """kill -9 in the middle of indexing, then the same command: every video once."""
    videos = osp.join(synthetic_motion, 'videos')
    index = tmp_path / 'index'
    args = [sys.executable, TOOL, 'index', CONFIG, tiny_checkpoint, '--videos', videos,
            '--out', str(index), '--shard-size', '2', '--batch-size', '1', '--workers', '0']
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    shards = 0
    while time.time() < deadline and proc.poll() is None and shards < 3:
        time.sleep(0.05)
        try:
            shards = len(json.load(open(index / 'manifest.json'))['shards'])
        except (OSError, ValueError):
            pass
    if proc.poll() is not None:
        pytest.fail(f'indexing ended (rc {proc.returncode}) before it could be killed')
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(json.load(open(index / 'manifest.json'))['shards']) * 2
    assert 6 <= done < 96
    rerun = run_tool(args[1:])
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f'indexed {96 - done} videos now, {done} were already' in rerun.stdout
    from mmstan.search import VideoIndex, videos_in_folder
    keys = VideoIndex.open(str(index)).keys
    assert sorted(keys) == [k for k, _ in videos_in_folder(videos)] and len(set(keys)) == 96


def test_user_errors_are_one_line(tiny_checkpoint, tmp_path, capsys):
    main = load_script('tools/search.py').main

    def error(argv):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 1
        return capsys.readouterr().err.strip()

    assert error(['query', str(tmp_path / 'none'), 'a dog']).startswith(
        f'error: no video index at {tmp_path / "none"}')
    (tmp_path / 'v').mkdir()
    (tmp_path / 'v' / 'x.mp4').write_bytes(b'0')
    (tmp_path / 'empty').mkdir()
    stan = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_stan.py')
    assert 'needs a VideoTextRetriever config' in error(
        ['index', stan, tiny_checkpoint, '--videos', str(tmp_path / 'v'), '--out', str(tmp_path / 'i')])
    assert 'no video file' in error(['index', CONFIG, tiny_checkpoint, '--videos',
                                     str(tmp_path / 'empty'), '--out', str(tmp_path / 'i')])
    assert 'checkpoint not found' in error(['index', CONFIG, str(tmp_path / 'x.pth'), '--videos',
                                            str(tmp_path / 'v'), '--out', str(tmp_path / 'i')])


def test_clip2video_index_and_an_index_of_the_old_stage_one_rule(synthetic_motion, tmp_path, capsys):
    """A CLIP2Video config: stage 1 alone (--rerank 0) is its exact ranking; the same
    index as an older mmstan wrote it (manifest ``head_mode``, Mug pooling of CLIP2Video's
    features) is brought up to date by the next query."""
    main = load_script('tools/search.py').main

    config = tmp_path / 'clip2video.py'
    config.write_text(f'_base_ = [{CONFIG!r}]\nmodel = dict(head=dict(_delete_=True, '
                      f'**{HEADS["clip2video"]!r}))\n')
    checkpoint = save_tiny_checkpoint(str(tmp_path / 'c2v.pth'), head=HEADS['clip2video'])
    index, ann = str(tmp_path / 'index'), osp.join(synthetic_motion, 'val_captions.json')
    main(['index', str(config), checkpoint, '--ann', ann, '--video-root',
          osp.join(synthetic_motion, 'videos'), '--out', index, '--workers', '0', '--device', 'cpu'])
    query = ['query', index, '--eval', ann, '--rerank', '0', '--device', 'cpu']
    capsys.readouterr()
    main(query)
    out = capsys.readouterr().out
    assert _metrics('two-stage ', out) == _metrics('exact ', out), out
    manifest = json.load(open(osp.join(index, 'manifest.json')))
    assert manifest['meta']['stage1'] == 'CLIP2VideoHead v2'
    for shard in manifest['shards']:  # as the old code wrote it
        frames = torch.from_numpy(np.load(osp.join(index, f'{shard["name"]}.frames.npy')))
        np.save(osp.join(index, f'{shard["name"]}.pooled.npy'),
                torch.nn.functional.normalize(frames, dim=-1).mean(1).numpy())
    manifest['meta'] = dict({k: v for k, v in manifest['meta'].items() if k != 'stage1'}, head_mode='mug')
    json.dump(manifest, open(osp.join(index, 'manifest.json'), 'w'))
    os.remove(osp.join(index, 'pooled.faiss'))
    main(query)
    again = capsys.readouterr().out
    assert 'recomputed the stage-1 vectors' in again
    assert _metrics('two-stage ', again) == _metrics('exact ', out)
    main(query)
    assert 'recomputed' not in capsys.readouterr().out
