# STAN-self-B/16 (Recognizer3D, CLIPSTAN K=4), 16 frames, global batch 128, Kinetics-400; paper [S] Table 4: 84.9 / 96.8 top-1/5.
_base_ = ['./k400.py']
from mmstan.utils.pipeline_edit import loaders_with_steps_args  # noqa: E402

num_frames = 16
model = dict(backbone=dict(num_frames=num_frames))
train_dataloader, val_dataloader, test_dataloader = loaders_with_steps_args(
    _base_, 'UniformSample', clip_len=num_frames)
