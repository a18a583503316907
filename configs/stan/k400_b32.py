# STAN-self-B/32 (Recognizer3D, CLIPSTAN K=4), 8 frames, global batch 128, Kinetics-400; a cheaper variant, not in the papers' tables.
_base_ = ['./k400.py']
model = dict(backbone=dict(arch='ViT-B-32'))
