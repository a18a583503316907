# STAN-B/32 video-text retriever: OpenAI CLIP ViT-B/32, K=4, mean-pooled similarity
# (STAN); the Mug-STAN configs switch the head to Mug.
_base_ = ['./retrieval_preprocessor.py']
model = dict(
    type='VideoTextRetriever',
    backbone=dict(type='CLIPSTAN', arch='ViT-B-32', pretrained='openai', num_frames=12,
                  num_layers=4, drop_path_rate=0.1),
    text_arch='ViT-B-32',
    text_pretrained='openai',
    head=dict(type='MugHead', mode='mean'),
    logit_scale=100.0,
    data_preprocessor={{_base_.retrieval_preprocessor}})
