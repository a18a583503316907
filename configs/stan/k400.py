# STAN-self-B/16 (Recognizer3D, CLIPSTAN K=4), 8 frames, global batch 128, Kinetics-400; paper [S] Table 4: 84.2 / 96.5 top-1/5 (1x3 views).
_base_ = [
    '../_base_/models/stan_b16.py', '../_base_/datasets/k400.py',
    '../_base_/schedules/adamw_cosine_recognition_stan.py'
]
model = dict(cls_head=dict(num_classes=400))
