"""The synthetic sets the demo, the analysis tools and the tests generate: small mp4 clips
of a shape moving left, right, up or down over a low-noise background.

Every trajectory's reverse is equally likely, so any single frame (and the unordered set
of frames) carries no information about the direction's sense: a model that pools frames
without temporal order can at best tell the axis (about 50% accuracy), while a temporal
model can reach 100%.

- :func:`write_synthetic_motion` (``tools/data/make_synthetic_motion.py``): a recognition
  set with captions::

      videos/{train,val}/NNNNN.mp4       the clips
      train.txt, val.txt                 mmaction2 VideoDataset lists: ``train/00000.mp4 2``
      train_captions.json, val_captions.json   ``{"train/00000.mp4": [caption, ...]}``
      classes.txt                        label map, one class name per line
      meta.json                          the arguments and FORMAT_VERSION

- :func:`write_synthetic_retrieval` (``tools/data/make_synthetic_retrieval.py``): a
  video-text retrieval set shaped like MSVD, in mmstan's caption JSON
  (``VideoCaptionDataset``)::

      videos/{train,test}/NNNNN.mp4
      train.json, test.json     {"test/00000.mp4": ["a red circle moving left", ...], ...}
"""
import json
import os
import os.path as osp
from typing import List, Tuple

import cv2
import numpy as np
from tqdm import tqdm

CLASSES = ('moving left', 'moving right', 'moving up', 'moving down')
#: (dx, dy) per frame for each class, in units of the speed.
DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))
COLORS = {'red': (220, 40, 40), 'green': (40, 200, 60), 'blue': (50, 80, 230),
          'yellow': (230, 210, 40), 'white': (240, 240, 240)}
SHAPES = ('square', 'circle')
#: Bump when the generated motion set changes, so stale copies are regenerated.
FORMAT_VERSION = 2

#: Caption templates of the retrieval set (one clip gets them in turn).
TEMPLATES = (
    'a {color} {shape} moving {direction}',
    'the {shape} moves {direction}',
    '{color} {shape} going {direction}',
    'a {shape} that is {color} travels {direction}',
    'something {color} slides {direction}',
    'a {color} {shape} on a grey background heading {direction}',
    'the {color} object goes {direction}',
    'a {shape} in {color} drifting {direction}',
    'a video of a {color} {shape} moving {direction}',
    'watch the {color} {shape} move {direction}',
)


# ---------------------------------------------------------------- clips
def draw_shape(frame: np.ndarray, shape: str, center: Tuple[float, float], radius: int,
               color: Tuple[int, int, int]) -> None:
    """Draw a filled shape (RGB color) into ``frame`` in place."""
    cx, cy = int(round(center[0])), int(round(center[1]))
    bgr = color[::-1]
    if shape == 'square':
        cv2.rectangle(frame, (cx - radius, cy - radius), (cx + radius, cy + radius), bgr, -1)
    else:
        cv2.circle(frame, (cx, cy), radius, bgr, -1)


def make_clip(rng: np.random.Generator, label: int, size: int, frames: int,
              noise: float) -> Tuple[np.ndarray, str, str]:
    """One clip ``[frames, size, size, 3]`` (BGR uint8), its shape and its color name."""
    shape = SHAPES[rng.integers(len(SHAPES))]
    color_name = list(COLORS)[rng.integers(len(COLORS))]
    radius = max(2, size // 6)
    speed = max(1.0, size / 16)
    travel = speed * (frames - 1)
    dx, dy = DIRECTIONS[label]
    lo, hi = radius + 1, size - radius - 2
    start = []
    for d in (dx, dy):
        if d > 0:
            start.append(rng.uniform(lo, hi - travel))
        elif d < 0:
            start.append(rng.uniform(lo + travel, hi))
        else:
            start.append(rng.uniform(lo, hi))
    background = np.full((size, size, 3), 60, np.float32)
    background += rng.normal(0, noise, size=(size, size, 1))
    clip = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        frame = np.clip(background, 0, 255).astype(np.uint8)
        center = (start[0] + dx * speed * t, start[1] + dy * speed * t)
        draw_shape(frame, shape, center, radius, COLORS[color_name])
        clip[t] = frame
    return clip, shape, color_name


def write_video(path: str, clip: np.ndarray, fps: int = 8) -> None:
    """Write ``[T, H, W, 3]`` BGR frames as an mp4 (MPEG-4 part 2)."""
    h, w = clip.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {path}; is opencv built with ffmpeg?')
    for frame in clip:
        writer.write(frame)
    writer.release()


# ---------------------------------------------------------------- the motion set
def captions_for(shape: str, color: str, label: int) -> List[str]:
    """The three captions of a motion-set clip."""
    direction = CLASSES[label].split()[1]
    return [f'a {color} {shape} moving {direction}',
            f'the {shape} moves to the {direction}' if label < 2 else f'the {shape} moves {direction}',
            f'{color} {shape} going {direction}']


def _motion_split(out: str, split: str, num: int, rng: np.random.Generator, size: int,
                  frames: int, noise: float) -> None:
    os.makedirs(osp.join(out, 'videos', split), exist_ok=True)
    lines, captions = [], {}
    for i in tqdm(range(num), desc=f'{split} clips', unit='clip'):
        label = i % len(CLASSES)
        clip, shape, color = make_clip(rng, label, size, frames, noise)
        name = f'{split}/{i:05d}.mp4'
        write_video(osp.join(out, 'videos', name), clip)
        lines.append(f'{name} {label}')
        captions[name] = captions_for(shape, color, label)
    with open(osp.join(out, f'{split}.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(osp.join(out, f'{split}_captions.json'), 'w') as f:
        json.dump(captions, f, indent=0)


def write_synthetic_motion(out: str = 'data/synthetic_motion', num_train: int = 2000,
                           num_val: int = 400, size: int = 32, frames: int = 8,
                           noise: float = 4.0, seed: int = 0) -> None:
    """Write the motion set into ``out`` (the layout in the module docstring): ``size``
    pixels square, ``frames`` per clip, background noise std ``noise``."""
    rng = np.random.default_rng(seed)
    _motion_split(out, 'train', num_train, rng, size, frames, noise)
    _motion_split(out, 'val', num_val, rng, size, frames, noise)
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    meta = dict(out=out, num_train=num_train, num_val=num_val, size=size, frames=frames,
                noise=noise, seed=seed, format_version=FORMAT_VERSION)
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(meta, f)
    print(f'wrote {num_train} train and {num_val} val clips to {out}')


def motion_set_is_current(out: str) -> bool:
    """Whether ``out`` holds a motion set of this :data:`FORMAT_VERSION`."""
    meta = osp.join(out, 'meta.json')
    if not osp.isfile(meta):
        return False
    with open(meta) as f:
        return json.load(f).get('format_version') == FORMAT_VERSION


# ---------------------------------------------------------------- the retrieval set
def retrieval_captions(shape: str, color: str, label: int, count: int) -> List[str]:
    """``count`` captions of one retrieval-set clip (the templates in turn, repeated if
    count > 10)."""
    direction = CLASSES[label].split()[1]
    return [TEMPLATES[i % len(TEMPLATES)].format(color=color, shape=shape, direction=direction)
            for i in range(count)]


def _retrieval_split(out: str, split: str, num: int, captions: int, rng: np.random.Generator,
                     size: int, frames: int) -> None:
    os.makedirs(osp.join(out, 'videos', split), exist_ok=True)
    ann = {}
    for i in tqdm(range(num), desc=f'{split} clips', unit='clip'):
        label = int(rng.integers(len(CLASSES)))
        clip, shape, color = make_clip(rng, label, size, frames, noise=4.0)
        name = f'{split}/{i:05d}.mp4'
        write_video(osp.join(out, 'videos', name), clip)
        ann[name] = retrieval_captions(shape, color, label, captions)
    with open(osp.join(out, f'{split}.json'), 'w') as f:
        json.dump(ann, f, indent=0)


def write_synthetic_retrieval(out: str = 'data/synthetic_retrieval', num_train: int = 80,
                              num_test: int = 30, captions: int = 10, size: int = 32,
                              frames: int = 8, seed: int = 0) -> None:
    """Write the retrieval set into ``out``: ``captions`` per video (MSVD's test videos
    have ~41; 1 gives the MSR-VTT 1k-A / LSMDC shape). ``frames`` must be 2-10 and
    ``size`` at least 32, so that the moving shape stays in the frame."""
    if not 2 <= frames <= 10 or size < 32:
        raise ValueError('frames must be 2-10 and size at least 32 (the moving shape must fit)')
    rng = np.random.default_rng(seed)
    _retrieval_split(out, 'train', num_train, captions, rng, size, frames)
    _retrieval_split(out, 'test', num_test, captions, rng, size, frames)
    print(f'wrote {num_train} train and {num_test} test clips with {captions} '
          f'captions each to {out}')


def retrieval_set_exists(out: str) -> bool:
    """Whether ``out`` holds a retrieval set's ``train.json`` and ``test.json``."""
    return osp.isfile(osp.join(out, 'train.json')) and osp.isfile(osp.join(out, 'test.json'))
