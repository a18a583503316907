# STAN-self-B/16 (Recognizer3D, CLIPSTAN K=6), 16 frames, global batch 128, Something-Something V2; paper [S] Table 5: 69.5 / 92.7 top-1/5.
_base_ = ['./ssv2.py']
from mmstan.utils.pipeline_edit import loaders_with_steps_args  # noqa: E402

num_frames = 16
model = dict(backbone=dict(num_frames=num_frames))
train_dataloader, val_dataloader, test_dataloader = loaders_with_steps_args(
    _base_, 'UniformSample', clip_len=num_frames)
