# STAN-self-B/16, 8 frames, 224 px, UCF101 split 1 (101 classes). The papers report only
# zero-shot numbers on this set; this is the finetuning recipe of K400 applied to it.
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/stan_b16.py',
    '../_base_/datasets/ucf101.py', '../_base_/schedules/adamw_cosine_recognition.py'
]
model = dict(cls_head=dict(num_classes=101))
