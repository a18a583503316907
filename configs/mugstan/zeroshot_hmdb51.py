# Zero-shot HMDB51 recognition with a post-pretrained Mug-STAN-B/32 (see the base).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/datasets/hmdb51.py',
    '../_base_/models/mugstan_zeroshot_recognition.py'
]
model = dict(cls_head=dict(classes='data/hmdb51/label_map.txt'))
test_dataloader = dict(dataset=dict(pipeline={{_base_.zeroshot_test_pipeline}}))
