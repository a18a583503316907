"""A tiny AVA dataset for the AVA tests, in mmaction2's AVA layout.

mmaction2's own AVA test annotations (``../shared/data/mmaction2/ava_dataset/``: sample
csv, excluded timestamps, proposals pkl, action list) when present, else generated files
of the same formats; raw frames ``<root>/<video_id>/img_00001.jpg ...`` cut from
``demo_spatiotemporal_det.mp4`` when present, else drawn. Plus the command-line overrides
that shrink ``configs/stan/ava.py`` to a tiny random-initialised CLIP.
"""
import os
import os.path as osp
import pickle
from typing import Dict, List

import numpy as np

from conftest import SHARED_DATA

AVA_SAMPLE = osp.join(SHARED_DATA, 'ava_dataset')
DEMO_VIDEO = osp.join(SHARED_DATA, 'demo_spatiotemporal_det.mp4')
VIDEO_IDS = ('0f39OWEqJ24', '_-Z6wFjXtGQ')
#: AVA frames are 30 fps and ``AVADataset`` puts timestamp 900 at frame 1; the sample's
#: key frames (902, 903) with the config's 8 x 37 window need frames up to ~210.
NUM_FRAMES = 240
FRAME_SIZE = (170, 128)  # (w, h): small, the pipeline resizes to 256 anyway

#: A tiny CLIP in the AVA geometry: patch 16 at 224 px (resampled to the 256 px crop, as
#: ViT-B/16 is), width 64, 4 blocks for the config's K=4 STAN layers.
TINY_DET_ARCH = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=224, patch_size=16, width=64, layers=4, head_width=32, mlp_ratio=2.0),
    text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=1, layers=1))


def _flat(prefix: str, node) -> List[str]:
    if isinstance(node, dict):
        return [opt for k, v in node.items() for opt in _flat(f'{prefix}.{k}', v)]
    return [f'{prefix}={node}']


def tiny_model_options() -> List[str]:
    """``--cfg-options`` replacing the config's CLIP ViT-B/16 by :data:`TINY_DET_ARCH`."""
    return ['model.backbone.arch._delete_=True', *_flat('model.backbone.arch', TINY_DET_ARCH),
            'model.backbone.pretrained=None',
            f'model.roi_head.bbox_head.in_channels={TINY_DET_ARCH["vision_cfg"]["width"]}']


def _generated_annotations(out: str) -> Dict[str, str]:
    """Files in the formats of mmaction2's sample (same ids, boxes and timestamps)."""
    os.makedirs(out, exist_ok=True)
    rows = [(VIDEO_IDS[0], 902, (0.031, 0.162, 0.670, 0.995), (12, 17, 79)),
            (VIDEO_IDS[0], 903, (0.034, 0.189, 0.669, 0.980), (12, 17)),
            (VIDEO_IDS[1], 902, (0.063, 0.049, 0.524, 0.996), (12, 80))]
    with open(osp.join(out, 'ava_sample.csv'), 'w') as f:
        for vid, ts, box, actions in rows:
            for action in actions:
                f.write(f'{vid},{ts:04d},' + ','.join(f'{v:.3f}' for v in box) + f',{action},0\n')
    with open(osp.join(out, 'ava_excluded_timestamps_sample.csv'), 'w') as f:
        f.write(f'{VIDEO_IDS[0]},0903\n{VIDEO_IDS[1]},0902\n')
    with open(osp.join(out, 'action_list.txt'), 'w') as f:
        for i, action in enumerate((12, 17, 79, 80)):
            f.write(f'item {{\n  name: "action{i + 1}"\n  id: {action}\n}}\n')
    proposals = {f'{vid},{ts:04d}': np.array([[b - 0.01 if j < 2 else b + 0.005
                                                for j, b in enumerate(box)] + [0.998]])
                 for vid, ts, box, _ in rows}
    with open(osp.join(out, 'ava_proposals_sample.pkl'), 'wb') as f:
        pickle.dump(proposals, f)
    return dict(ann_file=osp.join(out, 'ava_sample.csv'),
                exclude_file=osp.join(out, 'ava_excluded_timestamps_sample.csv'),
                label_file=osp.join(out, 'action_list.txt'),
                proposal_file=osp.join(out, 'ava_proposals_sample.pkl'))


def _video_frames() -> List[np.ndarray]:
    """BGR frames of the demo clip at 30 fps (its 6 fps repeated), or drawn ones."""
    import cv2

    w, h = FRAME_SIZE
    if osp.isfile(DEMO_VIDEO):
        import decord
        reader = decord.VideoReader(DEMO_VIDEO, width=w, height=h)
        clip = reader.get_batch(list(range(len(reader)))).asnumpy()[..., ::-1]
        step = reader.get_avg_fps() / 30
        return [np.ascontiguousarray(clip[min(int(i * step), len(clip) - 1)]) for i in range(NUM_FRAMES)]
    frames = []
    for i in range(NUM_FRAMES):  # a bright "person" walking right
        frame = np.full((h, w, 3), 60, np.uint8)
        x = 10 + i * (w - 60) // NUM_FRAMES
        cv2.rectangle(frame, (x, 20), (x + 40, h - 5), (200, 180, 160), -1)
        frames.append(frame)
    return frames


def make_ava_sample(out: str) -> Dict[str, str]:
    """Annotation paths (``ann_file``, ``exclude_file``, ``label_file``,
    ``proposal_file``), ``frames`` (the raw-frame root) and ``source`` ('mmaction2' or
    'generated') of a tiny AVA dataset under ``out``."""
    import cv2

    if all(osp.isfile(osp.join(AVA_SAMPLE, name)) for name in (
            'ava_sample.csv', 'ava_excluded_timestamps_sample.csv', 'action_list.txt',
            'ava_proposals_sample.pkl')):
        files = dict(ann_file=osp.join(AVA_SAMPLE, 'ava_sample.csv'),
                     exclude_file=osp.join(AVA_SAMPLE, 'ava_excluded_timestamps_sample.csv'),
                     label_file=osp.join(AVA_SAMPLE, 'action_list.txt'),
                     proposal_file=osp.join(AVA_SAMPLE, 'ava_proposals_sample.pkl'),
                     source='mmaction2')
    else:
        files = dict(_generated_annotations(osp.join(out, 'annotations')), source='generated')
    frames = _video_frames()
    for vid in VIDEO_IDS:
        os.makedirs(osp.join(out, 'rawframes', vid), exist_ok=True)
        for i, frame in enumerate(frames):
            cv2.imwrite(osp.join(out, 'rawframes', vid, f'img_{i + 1:05d}.jpg'), frame)
    files['frames'] = osp.join(out, 'rawframes')
    return files


def data_options(files: Dict[str, str], workers: int = 0) -> List[str]:
    """``--cfg-options`` pointing configs/stan/ava.py's loaders and evaluators at ``files``."""
    opts = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = f'{loader}.dataset'
        opts += [f'{ds}.ann_file={files["ann_file"]}', f'{ds}.exclude_file={files["exclude_file"]}',
                 f'{ds}.label_file={files["label_file"]}',
                 f'{ds}.proposal_file={files["proposal_file"]}',
                 f'{ds}.data_prefix.img={files["frames"]}', f'{loader}.num_workers={workers}',
                 f'{loader}.persistent_workers=False', f'{loader}.batch_size=1']
    for evaluator in ('val_evaluator', 'test_evaluator'):
        opts += [f'{evaluator}.ann_file={files["ann_file"]}',
                 f'{evaluator}.exclude_file={files["exclude_file"]}',
                 f'{evaluator}.label_file={files["label_file"]}']
    return opts
