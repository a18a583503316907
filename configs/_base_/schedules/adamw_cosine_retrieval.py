# STAN / Mug-STAN retrieval finetuning ([S] §4.1, [M] §IV-B): AdamW, weight decay 0.02,
# lr 2e-6 for CLIP and 10x (2e-5) for the STAN branch, linear warmup that ends after one
# epoch, then cosine to zero at the last epoch (the official configs' warmup never ends
# or their cosine oscillates). Global batch 128 = 8 GPUs x 16. 5 epochs is our choice
# (CLIP4Clip's); the papers give none.
_base_ = ['../default_runtime.py']

max_epochs = 5
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
# mixed precision: bf16 where the device has it (CUDA 8.0+, CPU), else fp16 with a dynamic
# loss scale (mmstan/engine/amp.py); optim_wrapper.type=OptimWrapper trains in fp32
optim_wrapper = dict(
    type='MixedPrecisionOptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-6, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.02),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'backbone.stan': dict(lr_mult=10.0)}),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=0.0, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=128)
default_hooks = dict(checkpoint=dict(save_best='retrieval/t2v/R1', rule='greater'))
