# STAN-self-B/16 video recognizer: OpenAI CLIP ViT-B/16 + 4 STAN layers + linear head.
_base_ = ['./clip_preprocessors.py']

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='CLIPSTAN', arch='ViT-B-16', pretrained='openai', num_frames=8, num_layers=4,
        temporal_module='attention', drop_path_rate=0.1),
    cls_head=dict(type='VideoLinearHead', num_classes=400, in_channels=512, dropout_ratio=0.5,
                  average_clips='prob'),
    data_preprocessor={{_base_.clip_preprocessor}})
