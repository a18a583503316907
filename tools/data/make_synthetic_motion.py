"""Write the synthetic motion dataset: small mp4 clips of a shape moving left, right,
up or down over a low-noise background.

Every trajectory's reverse is equally likely, so any single frame (and the unordered
set of frames) carries no information about the direction's sense: a model that pools
frames without temporal order can at best tell the axis (about 50% accuracy), while a
temporal model can reach 100%.

Output (in ``--out``)::

    videos/{train,val}/NNNNN.mp4       the clips
    train.txt, val.txt                 mmaction2 VideoDataset lists: ``train/00000.mp4 2``
    train_captions.json, val_captions.json   ``{"train/00000.mp4": [caption, ...]}``
    classes.txt                        label map, one class name per line

Usage: ``python tools/data/make_synthetic_motion.py --out data/synthetic_motion``
"""
import argparse
import json
import os
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
#: Bump when the generated data changes, so stale copies are regenerated.
FORMAT_VERSION = 2


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


def captions_for(shape: str, color: str, label: int) -> List[str]:
    direction = CLASSES[label].split()[1]
    return [f'a {color} {shape} moving {direction}',
            f'the {shape} moves to the {direction}' if label < 2 else f'the {shape} moves {direction}',
            f'{color} {shape} going {direction}']


def make_split(out: str, split: str, num: int, rng: np.random.Generator, size: int,
               frames: int, noise: float) -> None:
    os.makedirs(os.path.join(out, 'videos', split), exist_ok=True)
    lines, captions = [], {}
    for i in tqdm(range(num), desc=f'{split} clips', unit='clip'):
        label = i % len(CLASSES)
        clip, shape, color = make_clip(rng, label, size, frames, noise)
        name = f'{split}/{i:05d}.mp4'
        write_video(os.path.join(out, 'videos', name), clip)
        lines.append(f'{name} {label}')
        captions[name] = captions_for(shape, color, label)
    with open(os.path.join(out, f'{split}.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(out, f'{split}_captions.json'), 'w') as f:
        json.dump(captions, f, indent=0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/synthetic_motion', help='output folder')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=400)
    parser.add_argument('--size', type=int, default=32, help='frame size in pixels')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip')
    parser.add_argument('--noise', type=float, default=4.0, help='background noise std')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    make_split(args.out, 'train', args.num_train, rng, args.size, args.frames, args.noise)
    make_split(args.out, 'val', args.num_val, rng, args.size, args.frames, args.noise)
    with open(os.path.join(args.out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    with open(os.path.join(args.out, 'meta.json'), 'w') as f:
        json.dump(dict(vars(args), format_version=FORMAT_VERSION), f)
    print(f'wrote {args.num_train} train and {args.num_val} val clips to {args.out}')


if __name__ == '__main__':
    main()
