# AVA finetuning: the papers' video-only recipe ([M] §IV-B: AdamW, weight decay 0.02, lr
# 8e-6 for CLIP and 10x for the STAN branch and the new RoI head, global batch 128 = 8 GPUs
# x 16) with the length of mmaction2's VideoMAE AVA schedule (20 epochs, 5 warmup; the papers
# give none). Validation every 5 epochs: one pass over AVA val is ~57k key frames.
_base_ = ['./adamw_cosine_recognition.py']

max_epochs = 20
warmup_epochs = 5

train_cfg = dict(max_epochs=max_epochs, val_begin=1, val_interval=5)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'roi_head': dict(lr_mult=10.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0.0,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(save_best='mAP/overall', rule='greater', max_keep_ckpts=2))
auto_scale_lr = dict(enable=False, base_batch_size=128)
