# STAN-self-B/16, 16 frames, SSv2 (paper: 69.5 / 92.7).
_base_ = ['./ssv2.py']
num_frames = 16


def _with_frames(pipeline, clip_len):
    return [dict(step, clip_len=clip_len) if step['type'] == 'UniformSample' else step
            for step in pipeline]


model = dict(backbone=dict(num_frames=num_frames))
train_dataloader = dict(dataset=dict(pipeline=_with_frames(_base_.train_pipeline, num_frames)))
val_dataloader = dict(dataset=dict(pipeline=_with_frames(_base_.val_pipeline, num_frames)))
test_dataloader = dict(dataset=dict(pipeline=_with_frames(_base_.test_pipeline, num_frames)))
