# CLIP2Video-B/32 (VideoTextRetriever, CLIPMeanPool, CLIP2VideoHead: TDB + 4-layer temporal transformer + TAB K=5, w=0.5), 12 frames, global batch 128 (8 GPUs x 16; the paper gives none), MSR-VTT 9k / 1k-A; paper [C2V] Table 3: 45.6 / 72.6 / 81.7 / 2.0 (t2v R@1/5/10/MdR).
_base_ = [
    '../_base_/models/clip_preprocessors.py', '../_base_/datasets/msrvtt.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]

model = dict(
    type='VideoTextRetriever',
    clip=dict(arch='ViT-B-32', pretrained='openai'),
    backbone=dict(type='CLIPMeanPool'),
    head=dict(type='CLIP2VideoHead', num_layers=4, num_centers=5, global_weight=0.5),
    logit_scale=100.0,
    data_preprocessor={{_base_.retrieval_preprocessor}})
# Trained with the STAN retrieval recipe (same data, schedule and metric as configs/stan/msrvtt.py;
# the paper gives no lr, batch or epochs) so the heads compare side by side; new head modules
# get STAN's 10x learning rate. Loss w L_global + (1 - w) L_aligned, the same mix at inference.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'head.': dict(lr_mult=10.0)}))
