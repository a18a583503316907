# STAN-self-B/16 (Recognizer3D, CLIPSTAN K=6), 8 frames, global batch 128, Something-Something V2; paper [S] Table 5: 67.6 / 91.4 top-1/5 (1x3 views).
_base_ = [
    '../_base_/models/stan_b16.py', '../_base_/datasets/ssv2.py',
    '../_base_/schedules/adamw_cosine_recognition_stan.py'
]
model = dict(backbone=dict(num_layers=6), cls_head=dict(num_classes=174))
