# Mug-STAN-B/32 post-pretraining (VideoTextRetriever, CLIPSTAN K=4, Mug head), 12 frames, 64 tokens, global batch 1024 (32 GPUs x 32), WebVid; paper [M] §IV-B recipe (zero-shot results: Table I).
_base_ = [
    '../_base_/models/mugstan_retrieval_b32.py', '../_base_/datasets/webvid.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]
# AdamW weight decay 0.001, lr 4e-6 CLIP / 4e-5 STAN, warmup half an epoch, cosine, 3 epochs.
max_epochs = 3
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=4e-6, weight_decay=0.001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=0.5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 0.5, eta_min=0.0, by_epoch=True,
         begin=0.5, end=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=1024)
