# STAN-self-B/16 (VideoTextRetriever, CLIPSTAN K=4, mean similarity), 12 frames, global batch 128 (8 GPUs x 16), MSR-VTT 9k / 1k-A; paper [S] Table 1: 50.0 / 75.2 / 84.1 / 1.5.
_base_ = ['./msrvtt.py']
model = dict(clip=dict(arch='ViT-B-16'))
