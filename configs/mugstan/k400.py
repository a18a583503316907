# Mug-STAN-B/16, 8 frames, K400 with the class-name text head (paper: 84.7 / 96.7).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/mugstan_b16.py',
    '../_base_/datasets/k400.py', '../_base_/schedules/adamw_cosine_recognition.py'
]
model = dict(cls_head=dict(classes='data/kinetics400/label_map.txt'))
