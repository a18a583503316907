# CLIP4Clip-meanP-B/32 (VideoTextRetriever, CLIPMeanPool, MugHead mode='mean'), 12 frames, global batch 128 (8 GPUs x 16), MSR-VTT 9k / 1k-A; paper row: CLIP4Clip-meanP as quoted in [C2V] Table 3: 43.1 / 70.4 / 80.8 / 2.0 (t2v R@1/5/10/MdR).
_base_ = [
    '../_base_/models/clip_preprocessors.py', '../_base_/datasets/msrvtt.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]

model = dict(
    type='VideoTextRetriever',
    clip=dict(arch='ViT-B-32', pretrained='openai'),
    backbone=dict(type='CLIPMeanPool'),
    head=dict(type='MugHead', mode='mean'),  # cos(text [EOT], L2(mean of L2 frames))
    logit_scale=100.0,
    data_preprocessor={{_base_.retrieval_preprocessor}})
# Trained with the STAN retrieval recipe (same data, schedule and metric as configs/stan/msrvtt.py)
# so the heads compare side by side; new head modules get STAN's 10x learning rate.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'head.': dict(lr_mult=10.0)}))
