"""Spatio-temporal action detection on a video: write it back with person boxes and actions.

    python demo/demo_spatiotemporal_det.py CONFIG CHECKPOINT VIDEO OUT.mp4 \
        (--det-config MMDET_CFG --det-checkpoint MMDET_CKPT | --person-box X1 Y1 X2 Y2) \
        [--label-map tools/data/ava/label_map.txt] [--action-score-thr 0.5] [--device cpu]

CONFIG is an AVA detector config (``configs/stan/ava.py``), CHECKPOINT a local file or an
http(s) URL. Every ``--predict-interval`` seconds (AVA annotates at 1 Hz) a key frame gets
person boxes, from an mmdet person detector (COCO class 0 at ``--det-score-thr``, as
mmaction2's demo) or, without one, the fixed ``--person-box`` (fractions of the frame); the
detector then classifies each box over the config's clip around the key frame (its
``SampleAVAFrames`` frames and interval, given in AVA's 30 fps frames and rescaled to the
video's frame rate), at the config's square input size. Every frame of OUT shows the boxes
of its nearest key frame with the actions scoring at least ``--action-score-thr`` (names
from ``--label-map``, mmaction2's ``id: name`` lines, which also limits the actions shown
to those it names; else ``action <id>``).
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import sys  # noqa: E402
from typing import Dict, List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

AVA_FPS = 30
BOX_COLOR = (0, 180, 255)  # BGR
TEXT_COLOR = (255, 255, 255)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='AVA detector config file')
    parser.add_argument('checkpoint', help='checkpoint file or http(s) URL')
    parser.add_argument('video', help='input video file')
    parser.add_argument('out', help='output video (.mp4)')
    parser.add_argument('--det-config', help='mmdet person detector config (COCO classes)')
    parser.add_argument('--det-checkpoint', help='mmdet person detector checkpoint')
    parser.add_argument('--det-score-thr', type=float, default=0.9,
                        help='keep person detections scoring at least this')
    parser.add_argument('--person-box', type=float, nargs=4, metavar=('X1', 'Y1', 'X2', 'Y2'),
                        help='without a person detector: one fixed box, fractions of the frame')
    parser.add_argument('--label-map', help="action names, mmaction2's 'id: name' lines")
    parser.add_argument('--action-score-thr', type=float, default=0.5,
                        help='show actions scoring at least this')
    parser.add_argument('--predict-interval', type=float, default=1.0,
                        help='seconds between key frames')
    parser.add_argument('--max-labels', type=int, default=5, help='actions shown per box')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='key=value overrides of the config')
    args = parser.parse_args(argv)
    if (args.det_config is None) != (args.det_checkpoint is None):
        parser.error('--det-config and --det-checkpoint go together')
    if args.det_config is None and args.person_box is None:
        parser.error('give a person detector (--det-config, --det-checkpoint) or --person-box')
    return args


def read_video(path: str) -> Tuple[List[np.ndarray], float]:
    """All frames (RGB ``[H, W, 3]`` uint8) and the frame rate."""
    import decord

    from mmstan.errors import UserError
    from mmstan.utils.paths import require_file

    require_file(path, 'video', 'give a video file decord can read')
    try:
        reader = decord.VideoReader(path)
    except Exception as err:  # decord raises its own error type for unreadable files
        raise UserError(f'cannot read video {path}: {err}') from err
    frames = reader.get_batch(list(range(len(reader)))).asnumpy()
    return list(frames), float(reader.get_avg_fps())


def read_label_map(path: Optional[str]) -> Dict[int, str]:
    """``{action id: name}`` from mmaction2's ``label_map.txt`` (``1: bend/bow ...``)."""
    from mmstan.errors import UserError
    from mmstan.utils.paths import require_file

    if path is None:
        return {}
    require_file(path, 'label map', "give a text file of 'id: name' lines")
    names = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            key, sep, name = line.partition(':')
            if not sep or not key.strip().isdigit():
                raise UserError(f"{path}:{number}: expected 'id: name', got {line.strip()!r}")
            names[int(key)] = name.strip()
    return names


def clip_geometry(cfg) -> Tuple[int, int, int]:
    """``(clip_len, frame_interval, input_size)`` of the config's test pipeline."""
    from mmstan.errors import UserError

    pipeline = cfg.test_dataloader.dataset.pipeline
    samplers = [t for t in pipeline if t['type'] == 'SampleAVAFrames']
    if not samplers:
        raise UserError(f'{cfg.filename}: the test pipeline has no SampleAVAFrames step; '
                        'give an AVA detector config')
    size = cfg.model.backbone.get('input_resolution') or 224
    return samplers[0]['clip_len'], samplers[0]['frame_interval'], size


def key_frames(num_frames: int, fps: float, interval_s: float) -> List[int]:
    """Frame indices every ``interval_s`` seconds, the first half an interval in."""
    times = np.arange(interval_s / 2, num_frames / fps, interval_s)
    return sorted({min(int(round(t * fps)), num_frames - 1) for t in times}) or [num_frames // 2]


def clip_indices(key: int, clip_len: int, ava_interval: int, fps: float, num_frames: int) -> np.ndarray:
    """The ``clip_len`` frames around ``key`` as ``SampleAVAFrames`` picks them (start
    ``clip_len // 2`` intervals before), the 30 fps interval rescaled to ``fps``; clamped."""
    step = ava_interval * fps / AVA_FPS
    offsets = (np.arange(clip_len) - clip_len // 2) * step
    return np.clip(np.round(key + offsets).astype(int), 0, num_frames - 1)


def mmcv_has_cuda_ops() -> bool:
    """Whether mmcv's compiled ops include CUDA kernels (``tools/install.sh`` builds CPU ops
    only unless ``MMSTAN_MMCV_CUDA=1``)."""
    try:
        from mmcv.ops import get_compiling_cuda_version
    except ImportError:  # mmcv without compiled ops
        return False
    return get_compiling_cuda_version() != 'not available'


def person_detector_device(device: str) -> str:
    """``device`` for the mmdet person detector, or the CPU when ``device`` is a GPU and
    mmcv has no CUDA ops (its Faster R-CNN runs mmcv's RoIAlign and NMS). The AVA
    detector itself needs none (torchvision's RoIAlign) and keeps ``device``."""
    if not str(device).startswith('cuda') or mmcv_has_cuda_ops():
        return device
    print(f'mmcv has no CUDA ops (build them with MMSTAN_MMCV_CUDA=1 bash tools/install.sh): '
          f'running the person detector on the CPU, the action detector on {device}', file=sys.stderr)
    return 'cpu'


def person_boxes(args, frames: List[np.ndarray], keys: List[int]) -> List[np.ndarray]:
    """``[N, 4]`` pixel boxes ``x1, y1, x2, y2`` of the people in each key frame."""
    h, w = frames[0].shape[:2]
    if args.det_config is None:
        box = np.array(args.person_box, dtype=np.float32) * [w, h, w, h]
        return [box[None] for _ in keys]
    from mmdet.apis import inference_detector, init_detector
    from mmengine.utils import ProgressBar

    detector = init_detector(args.det_config, args.det_checkpoint,
                             device=person_detector_device(args.device))
    boxes, progress = [], ProgressBar(len(keys))
    for key in keys:
        pred = inference_detector(detector, np.ascontiguousarray(frames[key][:, :, ::-1])).pred_instances
        person = (pred.labels == 0) & (pred.scores >= args.det_score_thr)
        boxes.append(pred.bboxes[person].cpu().numpy().astype(np.float32))
        progress.update()
    return boxes


def detect(model, frames: List[np.ndarray], indices: np.ndarray, boxes: np.ndarray,
           size: int) -> np.ndarray:
    """Action scores ``[N, num_classes]`` (column k = action id k, 0 = background) of the
    ``boxes`` (pixels of the original frames) over the clip ``frames[indices]``."""
    import cv2
    import torch
    from mmaction.structures import ActionDataSample
    from mmengine.structures import InstanceData

    h, w = frames[0].shape[:2]
    clip = np.stack([cv2.resize(frames[i], (size, size)) for i in indices])  # T, H, W, C (RGB)
    inputs = torch.from_numpy(clip).permute(3, 0, 1, 2).contiguous()  # C, T, H, W
    sample = ActionDataSample()
    sample.set_metainfo(dict(img_shape=(size, size)))
    scale = torch.tensor([size / w, size / h, size / w, size / h])
    sample.proposals = InstanceData(bboxes=torch.from_numpy(boxes).float() * scale)
    with torch.no_grad():
        [pred] = model.test_step(dict(inputs=[inputs], data_samples=[sample]))
    return pred.pred_instances.scores.float().cpu().numpy()


def draw(frame: np.ndarray, boxes: np.ndarray, labels: List[List[Tuple[str, float]]]) -> np.ndarray:
    """``frame`` (BGR) with each box and its ``(name, score)`` labels."""
    import cv2

    out = frame.copy()
    for box, box_labels in zip(boxes, labels):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOR, 2)
        for row, (name, score) in enumerate(box_labels):
            text = f'{name}: {score:.2f}'
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, 0.4, 1)
            y = y1 + (row + 1) * (th + 6)
            cv2.rectangle(out, (x1, y - th - 4), (x1 + tw + 4, y + 2), BOX_COLOR, -1)
            cv2.putText(out, text, (x1 + 2, y - 2), cv2.FONT_HERSHEY_DUPLEX, 0.4, TEXT_COLOR, 1)
    return out


def run(args: argparse.Namespace) -> dict:
    """Detect and write ``args.out``; returns ``{key frame: (boxes, labels)}``."""
    import cv2
    from mmengine.utils import ProgressBar

    from mmstan.apis import init_model
    from mmstan.utils.cli import load_config

    cfg = load_config(args.config, args.cfg_options)
    clip_len, ava_interval, size = clip_geometry(cfg)
    names = read_label_map(args.label_map)
    frames, fps = read_video(args.video)
    keys = key_frames(len(frames), fps, args.predict_interval)
    boxes = person_boxes(args, frames, keys)
    model = init_model(cfg, args.checkpoint, args.device)  # path or URL; eval mode
    custom = cfg.test_dataloader.dataset.get('custom_classes')
    ids = [0] + list(custom) if custom else None  # score column -> action id

    print(f'classifying the people of {len(keys)} key frames', file=sys.stderr)
    found, progress = {}, ProgressBar(len(keys))
    for key, key_boxes in zip(keys, boxes):
        labels = [[] for _ in key_boxes]
        if len(key_boxes):
            scores = detect(model, frames, clip_indices(key, clip_len, ava_interval, fps, len(frames)),
                            key_boxes, size)
            for box_labels, box_scores in zip(labels, scores):
                for column in np.argsort(-box_scores[1:]) + 1:
                    action = ids[column] if ids else int(column)
                    if names and action not in names:
                        continue  # e.g. the 20 of AVA's 80 actions that v2.2 does not evaluate
                    if box_scores[column] < args.action_score_thr or len(box_labels) == args.max_labels:
                        break
                    box_labels.append((names.get(action, f'action {action}'), float(box_scores[column])))
        found[key] = (key_boxes, labels)
        progress.update()

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    if not writer.isOpened():
        from mmstan.errors import UserError
        raise UserError(f'cannot write {args.out}; give a writable .mp4 path')
    key_array = np.array(keys)
    for index, frame in enumerate(frames):
        nearest = int(key_array[np.abs(key_array - index).argmin()])
        writer.write(draw(np.ascontiguousarray(frame[:, :, ::-1]), *found[nearest]))
    writer.release()
    print(f'wrote {args.out} ({len(frames)} frames, {len(keys)} key frames)', file=sys.stderr)
    return found


def main(argv=None) -> None:
    from mmstan.utils.cli import run_or_explain

    args = parse_args(argv)
    run_or_explain(lambda: run(args))


if __name__ == '__main__':
    main()
