# Mug-STAN-B/16, 8 frames, SSv2 with K=6 and the class-name text head (paper: 67.7 / 91.5).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/mugstan_b16.py',
    '../_base_/datasets/ssv2.py', '../_base_/schedules/adamw_cosine_recognition.py'
]
model = dict(backbone=dict(num_layers=6), cls_head=dict(classes='data/sthv2/label_map.txt'))
