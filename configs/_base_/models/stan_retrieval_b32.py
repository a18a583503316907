# STAN-B/32 video-text retriever: one OpenAI CLIP ViT-B/32 (vision tower + K=4 STAN
# layers, text tower), similarity of the [EOT] text embedding with the mean frame (STAN).
_base_ = ['./clip_preprocessors.py']

model = dict(
    type='VideoTextRetriever',
    clip=dict(arch='ViT-B-32', pretrained='openai'),
    backbone=dict(type='CLIPSTAN', num_frames=12, num_layers=4, drop_path_rate=0.1),
    head=dict(type='MeanPHead'),
    logit_scale=100.0,
    data_preprocessor={{_base_.retrieval_preprocessor}})
