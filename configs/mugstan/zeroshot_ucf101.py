# Zero-shot UCF101 recognition with a post-pretrained Mug-STAN-B/32 (see the base).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/datasets/ucf101.py',
    '../_base_/models/mugstan_zeroshot_recognition.py'
]
model = dict(cls_head=dict(classes='data/ucf101/label_map.txt'))
test_dataloader = dict(dataset=dict(pipeline={{_base_.zeroshot_test_pipeline}}))
