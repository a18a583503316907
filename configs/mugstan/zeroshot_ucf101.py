# Zero-shot Mug-STAN-B/32 (CLIPRecognizer from a webvid_pretrain.py checkpoint, Mug class-name scoring), 12 frames, 1x3 views, test only, UCF101 split 1; paper [M] Table I: U (B/32 value not in the paper text; B/16: 70.3).
_base_ = ['../_base_/datasets/ucf101.py', '../_base_/models/mugstan_zeroshot_recognition.py']
from mmstan.utils.pipeline_edit import with_step_args  # noqa: E402

model = dict(cls_head=dict(classes={{_base_.label_map}}))
test_dataloader = dict(dataset=dict(
    pipeline=with_step_args(_base_.test_pipeline, 'UniformSample', clip_len=_base_.zeroshot_frames)))
