# Demo: mean-pooling CLIP (Recognizer3D, CLIPMeanPool, tiny random-init CLIP), 8 frames, batch 32, synthetic motion set; no paper row (the real-data analogue is [S] Table 6, row 1).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/clip_preprocessors.py',
    '../_base_/models/tiny_clip.py',
    '../_base_/datasets/synthetic_motion.py',
]

model = dict(
    type='Recognizer3D',
    backbone=dict(type='CLIPMeanPool', arch={{_base_.tiny_clip_arch}}, input_resolution=32),
    cls_head=dict(
        type='VideoLinearHead', num_classes=4, in_channels=64, topk=(1, ),
        average_clips='prob'),
    data_preprocessor={{_base_.clip_preprocessor}})

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), weight_decay=0.02),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=11, eta_min=1e-5, by_epoch=True, begin=1, end=12,
         convert_to_iter_based=True),
]

default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='auto'),
    logger=dict(interval=20))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=32)
