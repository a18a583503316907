# STAN-conv-B/16, 8 frames, K400 (paper: 83.1 / 96.0).
_base_ = ['./k400.py']
model = dict(backbone=dict(temporal_module='conv'))
