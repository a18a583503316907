# STAN-self-B/16, 8 frames, 224 px, HMDB51 split 1 (51 classes). The papers report only
# zero-shot numbers on this set; this is the finetuning recipe of K400 applied to it.
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/stan_b16.py',
    '../_base_/datasets/hmdb51.py', '../_base_/schedules/adamw_cosine_recognition.py'
]
model = dict(cls_head=dict(num_classes=51))
