"""mmaction2's ``AVAMetric`` with its result file in the work dir and no numpy-1 code path.

mmaction2 1.2.0's metric writes ``AVA_<time>_result.csv`` into the *current* directory
(clutter, collisions between runs started from one directory, failure in a read-only
one), scores it with ``ava_eval`` (which opens ``multiprocessing.Pool(32)`` on every call
and never closes it, and returns numpy 2's removed ``np.NAN`` for a class without ground
truth), then deletes it. This subclass takes the same arguments, writes the same csv into
the Runner's work dir, and scores it with :func:`ava_frame_map`: the same computation as
``ava_eval`` built from mmaction2's own readers and per-frame matcher, in this process. It
is registered under a name of its own, ``WorkDirAVAMetric``, which mmstan's AVA configs
name; ``type='AVAMetric'`` stays mmaction2's.
"""
import contextlib
import io
import os
import os.path as osp
import tempfile
from datetime import datetime
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmaction.evaluation import AVAMetric as MMActionAVAMetric
from mmaction.evaluation import results2csv
from mmaction.evaluation.functional.ava_evaluation.metrics import (
    compute_average_precision,
    compute_precision_recall,
)
from mmaction.evaluation.functional.ava_utils import read_csv, read_exclusions, read_labelmap, tpfp_single
from mmaction.registry import METRICS
from mmengine.logging import MMLogger, print_log

#: AVA's three action groups by class id, as mmaction2 reports them.
GROUPS = {
    'person_movement': lambda k: k <= 14,
    'object_manipulation': lambda k: 14 < k < 64,
    'person_interaction': lambda k: k >= 64,
}


def current_work_dir() -> Optional[str]:
    """The work dir of the running mmengine Runner, or None outside one.

    The Runner logs to ``<work_dir>/<timestamp>/<timestamp>.log``; a metric has no other
    handle on the Runner.
    """
    log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
    if not log_file:
        return None
    return osp.dirname(osp.dirname(osp.abspath(log_file)))


def _quiet_read_csv(path: str, whitelist) -> tuple:
    """mmaction2's ``read_csv`` without its timing line on stdout."""
    with open(path) as f, contextlib.redirect_stdout(io.StringIO()):
        return read_csv(f, whitelist)


def ava_frame_map(result_file: str, label_file: str, ann_file: str,
                  exclude_file: Optional[str] = None,
                  custom_classes: Optional[List[int]] = None) -> Tuple[Dict[str, float], Dict[int, float]]:
    """AVA frame mAP at IoU 0.5, as mmaction2 1.2.0's ``ava_eval(...,
    ignore_empty_frames=True)`` computes it.

    Args:
        result_file: detections, ``video_id,timestamp,x1,y1,x2,y2,action_id,score`` rows.
        label_file: the action list (``.pbtxt``); only its classes are scored.
        ann_file: ground truth rows (``...,action_id,person_id``).
        exclude_file: ``video_id,timestamp`` rows whose detections are ignored.
        custom_classes: ``[0, id, ...]`` as mmaction2's metric holds it; scores those ids.

    Returns:
        ``({'overall', 'person_movement', 'object_manipulation', 'person_interaction'}: mAP,
        {class_id: AP})``. As in mmaction2: only frames with ground truth count, a class
        is averaged only if it has a detection on such a frame, a class without ground
        truth has AP NaN and drops out of the means, and ground truth on excluded frames
        still counts towards a class's positives.
    """
    with open(label_file) as f:
        categories, whitelist = read_labelmap(f)
    if custom_classes is not None:
        whitelist = custom_classes[1:]
        assert set(whitelist).issubset({c['id'] for c in categories}), (
            f'custom_classes {whitelist} are not all in {label_file}')
    gt_boxes, gt_labels, _ = _quiet_read_csv(ann_file, whitelist)
    excluded = set()
    if exclude_file is not None:
        with open(exclude_file) as f:
            excluded = read_exclusions(f)
    boxes, labels, scores = _quiet_read_csv(result_file, whitelist)

    all_gt = np.concatenate([np.asarray(v) for v in gt_labels.values()]) if gt_labels else np.zeros(0)
    positives = {k: int(np.sum(all_gt == k)) for k in whitelist}
    class_scores, class_tpfp = {}, {}
    for key in gt_boxes:
        if key in excluded:
            continue
        frame_scores, frame_tpfp = tpfp_single((gt_boxes[key], gt_labels[key], boxes.get(key, []),
                                                labels.get(key, []), scores.get(key, [])))
        for k in frame_scores:
            class_scores.setdefault(k, []).append(frame_scores[k])
            class_tpfp.setdefault(k, []).append(frame_tpfp[k])

    per_class = {}
    for k in class_scores:
        if positives[k] == 0:
            per_class[k] = float('nan')
            continue
        precision, recall = compute_precision_recall(
            np.concatenate(class_scores[k]), np.concatenate(class_tpfp[k]), positives[k])
        per_class[k] = float(compute_average_precision(precision, recall))

    def mean(values: list) -> float:
        values = [v for v in values if not np.isnan(v)]
        return float(np.mean(values)) if values else float('nan')

    summary = {'overall': mean(list(per_class.values()))}
    for name, member in GROUPS.items():
        summary[name] = mean([ap for k, ap in per_class.items() if member(k)])
    return summary, per_class


@METRICS.register_module()
class WorkDirAVAMetric(MMActionAVAMetric):
    """AVA frame mAP (IoU 0.5), mmaction2's numbers (see :func:`ava_frame_map`).

    Args (besides mmaction2's ``ann_file, exclude_file, label_file, options, action_thr,
    num_classes, custom_classes, collect_device, prefix``):
        out_dir: where the AVA-format result csv goes; default: the Runner's work dir
            (a temporary directory outside a Runner, never the current directory).
        keep_results: keep the csv after scoring (``video_id,timestamp,x1,y1,x2,y2,
            action_id,score`` rows: the official evaluator's input) instead of deleting it.

    Returns ``overall``, ``person_movement``, ``object_manipulation`` and
    ``person_interaction`` mAP (``mAP/`` prefixed, as mmaction2's).
    """

    def __init__(self, ann_file: str, exclude_file: Optional[str], label_file: str,
                 options: Tuple[str] = ('mAP', ), action_thr: float = 0.002,
                 num_classes: int = 81, custom_classes: Optional[List[int]] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 out_dir: Optional[str] = None, keep_results: bool = False):
        super().__init__(ann_file=ann_file, exclude_file=exclude_file, label_file=label_file,
                         options=options, action_thr=action_thr, num_classes=num_classes,
                         custom_classes=custom_classes, collect_device=collect_device,
                         prefix=prefix)
        assert options[0] == 'mAP', f"WorkDirAVAMetric computes 'mAP' only, got options={options}"
        self.out_dir = out_dir
        self.keep_results = keep_results
        self.last_result_file: Optional[str] = None

    def compute_metrics(self, results: list) -> dict:
        """Write the detections as AVA csv rows into the work dir and score them."""
        out_dir = self.out_dir or current_work_dir()
        if out_dir is None and not self.keep_results:
            with tempfile.TemporaryDirectory(prefix='ava_') as tmp:
                return self._score(results, tmp)
        return self._score(results, out_dir or tempfile.mkdtemp(prefix='ava_'))

    def _score(self, results: list, out_dir: str) -> dict:
        os.makedirs(out_dir, exist_ok=True)
        stamp = datetime.now().strftime('%Y%m%d_%H%M%S_%f')
        path = osp.join(out_dir, f'AVA_{stamp}_result.csv')
        results2csv(results, path, self.custom_classes)
        try:
            summary, per_class = ava_frame_map(path, self.label_file, self.ann_file,
                                               self.exclude_file, self.custom_classes)
        finally:
            if not self.keep_results:
                os.remove(path)
        print_log('AVA AP per class: ' + ', '.join(f'{k}: {ap:.4f}' for k, ap in per_class.items()),
                  logger='current')
        if self.keep_results:
            self.last_result_file = path
            print_log(f'AVA detections written to {path}', logger='current')
        return summary
