# Mug-STAN video-only finetuning recipe ([M] §IV-B, K400 / SSv2): AdamW, weight decay 0.02,
# lr 8e-6 for CLIP and 10x (8e-5) for the new modules (STAN branch, head), cosine decay
# after a linear warmup. Global batch 128 = 8 GPUs x 16 (auto_scale_lr rescales for other
# batch sizes with --auto-scale-lr). STAN's own configs use [S]'s learning rate instead
# (adamw_cosine_recognition_stan.py). Epoch and warmup counts are choices, because no
# paper gives them: 30 epochs with 5 warmup epochs (X-CLIP's K400 schedule).
_base_ = ['../default_runtime.py']

max_epochs = 30
warmup_epochs = 5

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# mixed precision: bf16 where the device has it (CUDA 8.0+, CPU), else fp16 with a dynamic
# loss scale (mmstan/engine/amp.py); optim_wrapper.type=OptimWrapper trains in fp32
optim_wrapper = dict(
    type='MixedPrecisionOptimWrapper',
    optimizer=dict(type='AdamW', lr=8e-6, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.02),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'backbone.stan': dict(lr_mult=10.0),
            'cls_head': dict(lr_mult=10.0),
        }),
    clip_grad=dict(max_norm=5.0))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0.0,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]

auto_scale_lr = dict(enable=False, base_batch_size=128)
