# The baselines' shared retriever: CLIP-B/32 frames (CLIPMeanPool) with the CLIP4Clip meanP
# head, trained with the STAN retrieval recipe (same schedule and metric as configs/stan/*)
# so the heads compare side by side; leaves swap the head (`_delete_=True`).
_base_ = ['./clip_preprocessors.py', '../schedules/adamw_cosine_retrieval.py']

model = dict(
    type='VideoTextRetriever',
    clip=dict(arch='ViT-B-32', pretrained='openai'),
    backbone=dict(type='CLIPMeanPool'),
    head=dict(type='MeanPHead'),  # cos(text [EOT], L2(mean of L2 frames))
    logit_scale=100.0,
    data_preprocessor={{_base_.retrieval_preprocessor}})
# new head modules get STAN's 10x learning rate
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'head.': dict(lr_mult=10.0)}))
