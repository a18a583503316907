# Mug-STAN-B/16 (VideoTextRetriever, CLIPSTAN K=4, Mug head), 12 frames, global batch 128 (8 GPUs x 16), LSMDC; paper [M] Table II (values not in the paper text we have).
_base_ = ['./lsmdc.py']
model = dict(clip=dict(arch='ViT-B-16'))
