# Mug-STAN-B/16 (VideoTextRetriever, CLIPSTAN K=4, Mug head), 12 frames, global batch 128 (8 GPUs x 16), MSVD (multi-caption test); paper [M] Table II (values not in the paper text we have).
_base_ = ['./msvd.py']
model = dict(clip=dict(arch='ViT-B-16'))
