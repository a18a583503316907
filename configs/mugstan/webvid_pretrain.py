# Mug-STAN-B/32 post-pretraining (VideoTextRetriever, CLIPSTAN K=4, Mug head), 12 frames, 64 tokens, global batch 1024 (32 GPUs x 32), WebVid; paper [M] §IV-B recipe (zero-shot results: Table I).
_base_ = [
    '../_base_/models/mugstan_retrieval_b32.py', '../_base_/datasets/webvid_shards.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]
# AdamW weight decay 0.001, lr 4e-6 CLIP / 4e-5 STAN, warmup half an epoch, cosine, 3 epochs.
max_epochs = 3
# data: WebVid-10M tar shards in data/webvid/shards_10M (tools/data/make_shards.py); a run
# resumed from a mid-epoch checkpoint continues at the sample (--resume); an epoch is ~10.4k
# iterations, so checkpoints are saved every 1000 (the last 3 kept, plus the best).
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=1000, by_epoch=False, max_keep_ckpts=3))
optim_wrapper = dict(optimizer=dict(lr=4e-6, weight_decay=0.001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=0.5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 0.5, eta_min=0.0, by_epoch=True,
         begin=0.5, end=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=1024)
