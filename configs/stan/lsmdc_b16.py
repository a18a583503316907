# STAN-self-B/16 (VideoTextRetriever, CLIPSTAN K=4, mean similarity), 12 frames, global batch 128 (8 GPUs x 16), LSMDC; paper [S] Table 3: 27.1 / 49.3 / 58.7 / 6.0.
_base_ = ['./lsmdc.py']
model = dict(clip=dict(arch='ViT-B-16'))
