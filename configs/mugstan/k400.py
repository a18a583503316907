# Mug-STAN-B/16 (CLIPRecognizer: CLIPSTAN K=4 + class-name TextClassHead, Mug scoring), 8 frames, global batch 128, Kinetics-400; paper [M] Table III: 84.7 / 96.7 top-1/5.
_base_ = [
    '../_base_/models/mugstan_b16.py', '../_base_/datasets/k400.py',
    '../_base_/schedules/adamw_cosine_recognition.py'
]
model = dict(cls_head=dict(classes={{_base_.label_map}}))
