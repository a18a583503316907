# STAN-conv-B/16 (VideoTextRetriever, CLIPSTAN K=4, mean similarity), 12 frames, global batch 128 (8 GPUs x 16), MSVD (multi-caption test); paper [S] Table 9: 51.5 / 80.4 / 88.5 / 1.0.
_base_ = ['./msvd.py']
model = dict(clip=dict(arch='ViT-B-16'), backbone=dict(temporal_module='conv'))
