# STAN-conv-B/16 (Recognizer3D, CLIPSTAN K=4, temporal conv), 8 frames, global batch 128, Kinetics-400; paper [S] Table 4: 83.1 / 96.0.
_base_ = ['./k400.py']
model = dict(backbone=dict(temporal_module='conv'))
