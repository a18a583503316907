"""mmstan's WorkDirAVAMetric gives mmaction2's own AVA numbers, under numpy 2, with its result
file in the work dir."""
import csv
import glob
import math
import os
import os.path as osp
import uuid
from collections import defaultdict

import numpy as np
import pytest
from mmaction.evaluation import ava_eval
from mmaction.evaluation.metrics.ava_metric import AVAMetric as StockAVAMetric
from mmaction.registry import METRICS
from mmengine.logging import MMLogger

from mmstan import compat
from mmstan.evaluation import WorkDirAVAMetric, current_work_dir
from mmstan.evaluation.ava_metric import ava_frame_map

KEYS = ('overall', 'person_movement', 'object_manipulation', 'person_interaction')


def eval_files(shared_data):
    folder = osp.join(shared_data, 'eval_detection')
    files = {name: osp.join(folder, name) for name in ('gt.csv', 'pred.csv', 'action_list.txt')}
    missing = [path for path in files.values() if not osp.isfile(path)]
    if missing:
        pytest.skip(f'mmaction2 AVA evaluation test files missing: {missing}')
    return files


def results_from_csv(path: str, num_classes: int) -> list:
    """The per-frame, per-class box lists AVAMetric.process builds, read back from an AVA
    result csv (what results2csv turns them into)."""
    frames = defaultdict(lambda: [[] for _ in range(num_classes)])
    with open(path) as f:
        for vid, ts, x1, y1, x2, y2, action, score in csv.reader(f):
            frames[vid, int(ts)][int(action) - 1].append([float(x1), float(y1), float(x2),
                                                          float(y2), float(score)])
    return [dict(video_id=vid, timestamp=ts,
                 outputs=[np.array(boxes, dtype=np.float32).reshape(-1, 5) for boxes in outputs])
            for (vid, ts), outputs in frames.items()]


def rows(path: str) -> set:
    """``(video, timestamp, action, x1, y1, x2, y2, score)`` of each row, numbers rounded to
    the sample's 3 decimals (results2csv writes 4)."""
    with open(path) as f:
        return {(vid, int(ts), int(action), *(round(float(v), 3) for v in (x1, y1, x2, y2, score)))
                for vid, ts, x1, y1, x2, y2, action, score in csv.reader(f)}


def assert_same(ours: dict, reference: dict) -> None:
    for key in KEYS:
        a, b = float(ours[key]), float(reference[key])
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12), key


def test_same_map_as_mmaction2_ava_eval_on_its_test_files(shared_data, tmp_path, monkeypatch):
    files = eval_files(shared_data)
    reference = ava_eval(files['pred.csv'], 'mAP', files['action_list.txt'], files['gt.csv'], None)
    assert 0 < reference['overall'] < 1

    summary, per_class = ava_frame_map(files['pred.csv'], files['action_list.txt'], files['gt.csv'])
    assert_same(summary, reference)
    assert sorted(per_class) == [1, 2, 3]

    # the metric: same rows written, same numbers, in out_dir and not in the current dir
    results = results_from_csv(files['pred.csv'], num_classes=3)
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    metric = WorkDirAVAMetric(ann_file=files['gt.csv'], exclude_file=None,
                              label_file=files['action_list.txt'], num_classes=4,
                              out_dir=str(tmp_path / 'work'), keep_results=True)
    assert_same(metric.compute_metrics(results), reference)
    assert osp.dirname(metric.last_result_file) == str(tmp_path / 'work')
    assert rows(metric.last_result_file) == rows(files['pred.csv'])
    assert os.listdir(cwd) == []
    # mmaction2's own metric on the same results: same numbers (and it litters the cwd)
    stock = StockAVAMetric(ann_file=files['gt.csv'], exclude_file=None,
                           label_file=files['action_list.txt'], num_classes=4)
    assert_same(stock.compute_metrics(results), reference)


def write_rows(path, lines):
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


@pytest.fixture
def edge_case_files(tmp_path):
    """Generated AVA files with what the sample lacks: a class detected but never in the
    ground truth, a ground-truth class never detected, an excluded frame with ground truth,
    detections on a frame without ground truth, classes in all three action groups."""
    write_rows(tmp_path / 'labels.pbtxt', [
        f'item {{\n  name: "a{k}"\n  id: {k}\n}}' for k in (1, 5, 20, 30, 70)])
    write_rows(tmp_path / 'gt.csv', [
        'vidA,0902,0.1,0.1,0.5,0.9,1,0', 'vidA,0902,0.1,0.1,0.5,0.9,20,0',
        'vidA,0902,0.5,0.2,0.9,0.9,70,1', 'vidA,0903,0.1,0.1,0.5,0.9,1,0',
        'vidA,0903,0.1,0.1,0.5,0.9,30,0', 'vidB,0910,0.2,0.2,0.6,0.8,1,0',
        'vidB,0911,0.2,0.2,0.6,0.8,20,0', 'vidB,0911,0.2,0.2,0.6,0.8,99,0'])
    write_rows(tmp_path / 'excluded.csv', ['vidB,0911'])
    rng = np.random.default_rng(0)
    preds = []
    for vid, ts in (('vidA', 902), ('vidA', 903), ('vidB', 910), ('vidB', 911), ('vidC', 905)):
        for box in ((0.1, 0.1, 0.5, 0.9), (0.5, 0.2, 0.9, 0.9), (0.3, 0.3, 0.4, 0.4)):
            for k in (1, 5, 20, 70):  # 5: detected, never in ground truth; 30: never detected
                jitter = rng.uniform(-0.03, 0.03, 4)
                x1, y1, x2, y2 = np.clip(np.array(box) + jitter, 0, 1)
                preds.append(f'{vid},{ts:04d},{x1:.3f},{y1:.3f},{x2:.3f},{y2:.3f},{k},'
                             f'{rng.uniform():.3f}')
    write_rows(tmp_path / 'pred.csv', preds)
    return {name: str(tmp_path / name) for name in ('labels.pbtxt', 'gt.csv', 'excluded.csv', 'pred.csv')}


@pytest.mark.parametrize('exclude,custom', [(False, None), (True, None), (True, [1, 5, 70])])
def test_same_map_as_mmaction2_ava_eval_on_edge_cases(edge_case_files, exclude, custom, monkeypatch):
    from mmaction.evaluation.functional.ava_evaluation import metrics

    f = edge_case_files
    exclude_file = f['excluded.csv'] if exclude else None
    classes = None if custom is None else [0] + custom
    # mmaction2's function needs mmstan.compat's opt-in np.NAN alias under numpy 2 ...
    monkeypatch.setattr(metrics, 'np', metrics.np)  # (undone after the test)
    compat.numpy2_ava_nan()
    reference = ava_eval(f['pred.csv'], 'mAP', f['labels.pbtxt'], f['gt.csv'], exclude_file,
                         custom_classes=classes)
    # ... mmstan's does not
    monkeypatch.setattr(metrics, 'np', np)
    summary, per_class = ava_frame_map(f['pred.csv'], f['labels.pbtxt'], f['gt.csv'], exclude_file, classes)
    assert_same(summary, reference)
    if custom is None:
        assert math.isnan(per_class[5]) and 30 not in per_class  # as mmaction2 scores them


def test_result_file_in_the_runner_work_dir(shared_data, tmp_path, monkeypatch):
    files = eval_files(shared_data)
    results = results_from_csv(files['pred.csv'], num_classes=3)
    work = tmp_path / 'work'
    stamp = '20260101_000000'
    (work / stamp).mkdir(parents=True)
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    name = f'ava_test_{uuid.uuid4().hex}'
    # what a Runner does: its logger writes to <work_dir>/<timestamp>/<timestamp>.log
    MMLogger.get_instance(name, log_file=str(work / stamp / f'{stamp}.log'))
    try:
        assert current_work_dir() == str(work)
        kept = METRICS.build(dict(type='WorkDirAVAMetric', ann_file=files['gt.csv'], exclude_file=None,
                                  label_file=files['action_list.txt'], num_classes=4, keep_results=True))
        assert isinstance(kept, WorkDirAVAMetric)
        kept.compute_metrics(results)
        assert glob.glob(str(work / 'AVA_*_result.csv')) == [kept.last_result_file]
        dropped = WorkDirAVAMetric(ann_file=files['gt.csv'], exclude_file=None,
                                   label_file=files['action_list.txt'], num_classes=4)
        dropped.compute_metrics(results)
        assert glob.glob(str(work / 'AVA_*_result.csv')) == [kept.last_result_file]
    finally:
        logger = MMLogger._instance_dict.pop(name)
        for handler in logger.handlers:
            handler.close()
    assert os.listdir(cwd) == []


def test_stock_ava_configs_keep_mmaction2_metric():
    """``type='AVAMetric'`` (every mmaction2 AVA config) builds mmaction2's own metric with
    mmstan imported; mmstan's AVA configs name ``WorkDirAVAMetric``."""
    from mmengine.config import Config

    from conftest import ROOT

    assert METRICS.get('AVAMetric') is StockAVAMetric
    assert METRICS.get('WorkDirAVAMetric') is WorkDirAVAMetric
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'stan', 'ava.py'))
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'WorkDirAVAMetric'
