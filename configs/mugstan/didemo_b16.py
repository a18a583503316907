# Mug-STAN-B/16 (VideoTextRetriever, CLIPSTAN K=4, Mug head), 64 frames, global batch 128 (16 GPUs x 8), DiDeMo (paragraph queries); paper [M] Table II (values not in the paper text we have).
_base_ = ['./didemo.py']
model = dict(clip=dict(arch='ViT-B-16'))
