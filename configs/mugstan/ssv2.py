# Mug-STAN-B/16 (CLIPRecognizer: CLIPSTAN K=6 + class-name TextClassHead, Mug scoring), 8 frames, global batch 128, Something-Something V2; paper [M] Table III: 67.7 / 91.5 top-1/5.
_base_ = [
    '../_base_/models/mugstan_b16.py', '../_base_/datasets/ssv2.py',
    '../_base_/schedules/adamw_cosine_recognition.py'
]
model = dict(backbone=dict(num_layers=6), cls_head=dict(classes={{_base_.label_map}}))
