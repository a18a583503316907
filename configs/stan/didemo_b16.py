# STAN-conv-B/16 (VideoTextRetriever, CLIPSTAN K=4, mean similarity), 64 frames, global batch 128 (16 GPUs x 8), DiDeMo (paragraph queries); paper [S] Table 2: 49.4 / 74.9 / 84.5 / 1.0.
_base_ = ['./didemo.py']
model = dict(clip=dict(arch='ViT-B-16'), backbone=dict(temporal_module='conv'))
