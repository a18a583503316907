# STAN-self-B/32, 8 frames, K400 (a cheaper variant; not in the papers' tables).
_base_ = ['./k400.py']
model = dict(backbone=dict(arch='ViT-B-32'))
