"""demo/demo_spatiotemporal_det.py end to end: a tiny untrained STAN detector on
demo_spatiotemporal_det.mp4 writes the video back with boxes and action labels."""
import copy
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
from ava_sample import DEMO_VIDEO, TINY_DET_ARCH, tiny_model_options
from mmaction.registry import MODELS
from mmengine.config import Config

from conftest import ROOT, SHARED_DATA, run_tool

DEMO = osp.join(ROOT, 'demo', 'demo_spatiotemporal_det.py')
CONFIG = osp.join(ROOT, 'configs', 'stan', 'ava.py')
BOX = (0.25, 0.1, 0.75, 0.95)


def demo_video(tmp_path) -> str:
    """mmaction2's demo clip, or a generated 3 s one."""
    if osp.isfile(DEMO_VIDEO):
        return DEMO_VIDEO
    import cv2
    path = str(tmp_path / 'generated.mp4')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 10, (160, 120))
    for i in range(30):
        frame = np.full((120, 160, 3), 40, np.uint8)
        cv2.circle(frame, (20 + 4 * i, 60), 15, (200, 200, 200), -1)
        writer.write(frame)
    writer.release()
    return path


def tiny_checkpoint(path: str) -> None:
    cfg = Config.fromfile(CONFIG)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(arch=TINY_DET_ARCH, pretrained=None)
    model_cfg.roi_head.bbox_head.in_channels = TINY_DET_ARCH['vision_cfg']['width']
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(model_cfg).state_dict()), path)


@pytest.mark.slow
def test_demo_writes_video_with_boxes(tmp_path):
    import decord

    video = demo_video(tmp_path)
    ckpt, out = str(tmp_path / 'tiny.pth'), str(tmp_path / 'out.mp4')
    tiny_checkpoint(ckpt)
    args = [DEMO, CONFIG, ckpt, video, out, '--person-box', *map(str, BOX),
            '--action-score-thr', '0', '--cfg-options', *tiny_model_options()]
    label_map = osp.join(SHARED_DATA, 'label_maps', 'ava.txt')
    if osp.isfile(label_map):
        args += ['--label-map', label_map]
    proc = run_tool(args, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'key frames' in proc.stderr

    source, result = decord.VideoReader(video), decord.VideoReader(out)
    assert len(result) == len(source)
    first_in, first_out = source[0].asnumpy().astype(int), result[0].asnumpy().astype(int)
    assert first_out.shape == first_in.shape
    h, w = first_in.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in np.array(BOX) * [w, h, w, h])
    diff = np.abs(first_out - first_in).sum(-1)
    # the box's right edge is drawn; the label boxes sit at its top left; far from it, only
    # compression noise
    assert diff[(y1 + y2) // 2, x2 - 1:x2 + 1].max() > 100
    assert diff[y1 + 2:y1 + 60, x1 + 2:x1 + 60].mean() > 30
    assert np.median(diff[:, :max(x1 - 10, 1)]) < 30


def test_demo_needs_person_boxes(tmp_path):
    proc = run_tool([DEMO, CONFIG, 'x.pth', 'in.mp4', 'out.mp4'], cwd=str(tmp_path))
    assert proc.returncode == 2 and '--person-box' in proc.stderr


@pytest.mark.slow
def test_demo_explains_a_missing_video(tmp_path):
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save(dict(state_dict={}), ckpt)
    proc = run_tool([DEMO, CONFIG, ckpt, str(tmp_path / 'missing.mp4'), 'out.mp4',
                     '--person-box', '0', '0', '1', '1'], cwd=str(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith('error: video not found')


def _demo_module():
    spec = importlib.util.spec_from_file_location('_mmstan_demo_spatiotemporal_det', DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('compiled', ['not available', '12.1'])
def test_person_detector_runs_on_cpu_when_mmcv_has_no_cuda_ops(compiled, monkeypatch, capsys):
    """mmdet's Faster R-CNN needs mmcv's CUDA ops on a GPU; tools/install.sh builds CPU
    ops unless MMSTAN_MMCV_CUDA=1, so then the person detector runs on the CPU (one line
    says so) and the action detector stays on the GPU."""
    import mmcv.ops

    demo = _demo_module()
    monkeypatch.setattr(mmcv.ops, 'get_compiling_cuda_version', lambda: compiled)
    has_cuda_ops = compiled != 'not available'
    assert demo.mmcv_has_cuda_ops() is has_cuda_ops
    assert demo.person_detector_device('cuda:0') == ('cuda:0' if has_cuda_ops else 'cpu')
    lines = capsys.readouterr().err.strip().splitlines()
    if has_cuda_ops:
        assert lines == []
    else:
        assert len(lines) == 1 and 'mmcv has no CUDA ops' in lines[0] and 'MMSTAN_MMCV_CUDA=1' in lines[0]
    assert demo.person_detector_device('cpu') == 'cpu'  # the CPU needs no CUDA ops
    assert capsys.readouterr().err == ''
