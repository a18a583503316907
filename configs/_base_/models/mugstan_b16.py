# Mug-STAN video recognizer ([M] eq. 20): one OpenAI CLIP ViT-B/16 whose vision tower
# carries 4 STAN layers and whose frozen text tower encodes the bare class names (tau=100).
# Each class name's tokens are scored by Mug (eqs. 11-18) against the clip's frames
# (scoring='mug': eq. 20 with the mutual-guided v~ and c~; 'global' is the plain cosine).
# Dataset configs set `model.cls_head.classes` to their label map.
_base_ = ['./clip_preprocessors.py']

model = dict(
    type='CLIPRecognizer',
    clip=dict(arch='ViT-B-16', pretrained='openai'),
    backbone=dict(type='CLIPSTAN', num_frames=8, num_layers=4, temporal_module='attention',
                  drop_path_rate=0.1),
    cls_head=dict(type='TextClassHead', classes=[], tau=100.0, scoring='mug',
                  average_clips='prob'),
    data_preprocessor={{_base_.clip_preprocessor}})
