# WebVid-10M post-pretraining captions ([M] §IV: "WebVid10M", 10.7M pairs; the CSV
# results_10M_train.csv converted by tools/data/prepare_retrieval.py webvid), 64 tokens,
# 32 videos per GPU, validated on MSR-VTT 1k-A. WebVid-2.5M (results_2M_train.json) is
# the same format: set train_dataloader.dataset.ann_file to use it.
_base_ = ['./msrvtt.py']
from mmstan.utils.pipeline_edit import with_step_args  # noqa: E402

context_length = 64
train_dataloader = dict(batch_size=32, dataset=dict(
    data_root='data/webvid', ann_file='results_10M_train.json',
    pipeline=with_step_args(_base_.train_pipeline, 'OpenCLIPTokenize', context_length=context_length)))
val_dataloader = dict(dataset=dict(
    caption_pipeline=with_step_args(_base_.caption_pipeline, 'OpenCLIPTokenize', context_length=context_length)))
test_dataloader = val_dataloader
