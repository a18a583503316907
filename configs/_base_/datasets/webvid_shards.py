# WebVid-10M post-pretraining read from indexed tar shards instead of 10.7M files: the
# shards tools/data/make_shards.py writes (or video2dataset's webdataset tars, indexed in
# place with `make_shards.py index`), read by index (ShardedVideoCaptionDataset: one seek
# and one read per sample, decoded from memory by ShardDecordInit), and a sampler whose
# position the checkpoints keep (resume at the sample with ResumableEpochBasedTrainLoop).
_base_ = ['./webvid.py']
from mmstan.utils.pipeline_edit import with_step_args  # noqa: E402

train_dataloader = dict(
    sampler=dict(type='ResumableSampler', shuffle=True),
    dataset=dict(type='ShardedVideoCaptionDataset', ann_file='shards_10M',
                 pipeline=with_step_args(_base_.train_dataloader.dataset.pipeline, 'DecordInit',
                                         type='ShardDecordInit')))
