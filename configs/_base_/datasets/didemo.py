# DiDeMo: all descriptions of a video concatenated into one paragraph query, 64 frames,
# 64 tokens, 8 videos per GPU; files from tools/data/prepare_retrieval.py.
_base_ = ['./retrieval.py']
from mmstan.utils.pipeline_edit import with_step_args  # noqa: E402

data_root = 'data/didemo'
num_frames = 64
context_length = 64
train_pipeline = with_step_args(with_step_args(_base_.train_pipeline, 'UniformSample', clip_len=num_frames),
                                'OpenCLIPTokenize', context_length=context_length)
test_pipeline = with_step_args(_base_.test_pipeline, 'UniformSample', clip_len=num_frames)
caption_pipeline = with_step_args(_base_.caption_pipeline, 'OpenCLIPTokenize', context_length=context_length)
train_dataloader = dict(batch_size=8, dataset=dict(
    data_root=data_root, ann_file='train.json', concat_captions=True, pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, dataset=dict(
    data_root=data_root, ann_file='test.json', concat_captions=True, pipeline=test_pipeline,
    caption_pipeline=caption_pipeline))
test_dataloader = val_dataloader
