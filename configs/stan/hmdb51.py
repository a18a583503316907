# STAN-self-B/16 (Recognizer3D, CLIPSTAN K=4), 8 frames, global batch 128, HMDB51 split 1; the papers report only zero-shot numbers here (the K400 recipe applied).
_base_ = [
    '../_base_/models/stan_b16.py', '../_base_/datasets/hmdb51.py',
    '../_base_/schedules/adamw_cosine_recognition_stan.py'
]
model = dict(cls_head=dict(num_classes=51))
